// 6b. for Go (GOMAXPROCS=1): ping-pong through two channels of capacity 1.
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
	q1, q2 := make(chan int, 1), make(chan int, 1)
	var wg sync.WaitGroup
	wg.Add(2)
	t0 := time.Now()
	go func() {
		for i := 0; i < N; i++ {
			q1 <- i
			if <-q2 != i {
				panic("bad reply")
			}
		}
		wg.Done()
	}()
	go func() {
		for i := 0; i < N; i++ {
			q2 <- <-q1
		}
		wg.Done()
	}()
	wg.Wait()
	fmt.Printf("RESULT ns_per_roundtrip %.6g ns\n", float64(time.Since(t0).Nanoseconds())/float64(N))
}
