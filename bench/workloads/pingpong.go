// 1. for Go: two goroutines each calling runtime.Gosched() N/2 times with
// GOMAXPROCS=1 (Gosched puts the caller at the back of the run queue, like
// gevent.sleep(0)). N switches in all.
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
	half := N / 2
	var wg sync.WaitGroup
	f := func() {
		for i := 0; i < half; i++ {
			runtime.Gosched()
		}
		wg.Done()
	}
	t0 := time.Now()
	wg.Add(2)
	go f()
	go f()
	wg.Wait()
	t := time.Since(t0)
	fmt.Printf("RESULT ns_per_switch %.6g ns\n", float64(t.Nanoseconds())/float64(2*half))
}
