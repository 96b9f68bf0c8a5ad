// Client benchmark peer: Go's net/http client, N keep-alive GET requests
// over C goroutines (GOMAXPROCS=1).   client URL N C
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

func main() {
	url := os.Args[1]
	n, _ := strconv.Atoi(os.Args[2])
	c, _ := strconv.Atoi(os.Args[3])
	per := n / c
	tr := &http.Transport{MaxIdleConnsPerHost: c}
	cl := &http.Client{Transport: tr}
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := 0; i < c; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < per; j++ {
				r, err := cl.Get(url)
				if err != nil || r.StatusCode != 200 {
					fmt.Fprintln(os.Stderr, "request failed:", err)
					os.Exit(1)
				}
				io.Copy(io.Discard, r.Body)
				r.Body.Close()
			}
		}()
	}
	wg.Wait()
	dt := time.Since(t0).Seconds()
	fmt.Printf("RESULT client_rps %.0f req/s\n", float64(per*c)/dt)
}
