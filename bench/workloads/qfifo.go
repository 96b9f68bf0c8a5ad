// 6a. for Go (GOMAXPROCS=1): N ints through a channel with capacity N (never
// blocks the producer, like an unbounded Queue); producer + consumer goroutines.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

func main() {
	runtime.GOMAXPROCS(1)
	N := 1000000
	if len(os.Args) > 1 {
		N, _ = strconv.Atoi(os.Args[1])
	}
	t0 := time.Now()
	ch := make(chan int, N)
	var wg sync.WaitGroup
	sum := 0
	wg.Add(2)
	go func() {
		for i := 1; i <= N; i++ {
			ch <- i
		}
		wg.Done()
	}()
	go func() {
		for i := 0; i < N; i++ {
			sum += <-ch
		}
		wg.Done()
	}()
	wg.Wait()
	t := time.Since(t0)
	if sum != N*(N+1)/2 {
		fmt.Fprintln(os.Stderr, "bad sum")
		os.Exit(1)
	}
	fmt.Printf("RESULT ns_per_item %.6g ns\n", float64(t.Nanoseconds())/float64(N))
}
