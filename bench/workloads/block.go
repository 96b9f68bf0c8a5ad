// 2./3. for Go (GOMAXPROCS=1): N goroutines blocked receiving from one channel,
// released by close(ch) (wakes all, like Event.set) and joined with a WaitGroup.
package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

func status(field string) int {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, field+":") {
			v, _ := strconv.Atoi(strings.Fields(l)[1])
			return v
		}
	}
	return 0
}

func main() {
	runtime.GOMAXPROCS(1)
	N := 100000
	if len(os.Args) > 1 {
		N, _ = strconv.Atoi(os.Args[1])
	}
	ch := make(chan struct{})
	var started, done sync.WaitGroup
	woke := 0
	runtime.GC()
	rss0 := status("VmRSS")
	t0 := time.Now()
	started.Add(N)
	done.Add(N)
	for i := 0; i < N; i++ {
		go func() {
			started.Done()
			<-ch
			woke++ // GOMAXPROCS=1; the WaitGroup orders it before the read below
			done.Done()
		}()
	}
	started.Wait()
	runtime.Gosched()
	t1 := time.Now()
	runtime.GC()
	rss1 := status("VmRSS")
	close(ch)
	done.Wait()
	t2 := time.Now()
	if woke != N {
		fmt.Fprintf(os.Stderr, "only %d of %d woke\n", woke, N)
		os.Exit(1)
	}
	fmt.Printf("RESULT kib_per_task %.6g KiB\n", float64(rss1-rss0)/float64(N))
	fmt.Printf("RESULT spawn_block_ms %.6g ms\n", float64(t1.Sub(t0).Nanoseconds())/1e6)
	fmt.Printf("RESULT release_ms %.6g ms\n", float64(t2.Sub(t1).Nanoseconds())/1e6)
	fmt.Printf("RESULT total_ms %.6g ms\n", float64(t2.Sub(t0).Nanoseconds())/1e6)
	fmt.Printf("RESULT peak_rss_kib %d KiB\n", status("VmHWM"))
	fmt.Printf("RESULT ok 1\n")
}
