// 4. for Go (GOMAXPROCS=1): N goroutines that only call wg.Done(), then wg.Wait().
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
	N := 100000
	if len(os.Args) > 1 {
		N, _ = strconv.Atoi(os.Args[1])
	}
	var wg sync.WaitGroup
	t0 := time.Now()
	wg.Add(N)
	for i := 0; i < N; i++ {
		go func() { wg.Done() }()
	}
	wg.Wait()
	t := time.Since(t0)
	fmt.Printf("RESULT total_ms %.6g ms\n", float64(t.Nanoseconds())/1e6)
	fmt.Printf("RESULT ns_per_task %.6g ns\n", float64(t.Nanoseconds())/float64(N))
}
