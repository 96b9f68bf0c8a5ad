// 5. for Go (GOMAXPROCS=1): N goroutines each time.Sleep(random in [0,1)), WaitGroup.
package main

import (
	"fmt"
	"math/rand"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

func main() {
	runtime.GOMAXPROCS(1)
	N := 100000
	span := 1.0
	if len(os.Args) > 1 {
		N, _ = strconv.Atoi(os.Args[1])
	}
	if len(os.Args) > 2 {
		span, _ = strconv.ParseFloat(os.Args[2], 64)
	}
	r := rand.New(rand.NewSource(42))
	var wg sync.WaitGroup
	t0 := time.Now()
	wg.Add(N)
	for i := 0; i < N; i++ {
		d := time.Duration(r.Float64() * span * float64(time.Second))
		go func() { time.Sleep(d); wg.Done() }()
	}
	ts := time.Since(t0)
	wg.Wait()
	fmt.Printf("RESULT wall_s %.6g s\n", time.Since(t0).Seconds())
	fmt.Printf("RESULT spawn_ms %.6g ms\n", float64(ts.Nanoseconds())/1e6)
}
