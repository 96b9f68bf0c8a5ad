/* Machine probe for bench/run: cost of a first-touch 4 KiB page fault (1 GiB, anonymous). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
int main(){ size_t n=1UL<<30; struct timespec a,b; char*p=mmap(0,n,PROT_READ|PROT_WRITE,MAP_PRIVATE|MAP_ANONYMOUS,-1,0);
clock_gettime(CLOCK_MONOTONIC,&a); for(size_t i=0;i<n;i+=4096)p[i]=1; clock_gettime(CLOCK_MONOTONIC,&b);
double t=(b.tv_sec-a.tv_sec)+(b.tv_nsec-a.tv_nsec)/1e9; printf("%.0f ns per 4K page fault\n", t*1e9/(n/4096)); }
