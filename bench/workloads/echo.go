// 7. Go TCP echo server (GOMAXPROCS=1): one goroutine per connection,
// io.ReadFull 64 bytes, Write them back. Args: PORT.
package main

import (
	"io"
	"net"
	"os"
	"runtime"
)

func handle(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 64)
	for {
		if _, err := io.ReadFull(c, buf); err != nil {
			return
		}
		if _, err := c.Write(buf); err != nil {
			return
		}
	}
}

func main() {
	runtime.GOMAXPROCS(1)
	port := "9000"
	if len(os.Args) > 1 {
		port = os.Args[1]
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		panic(err)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			continue
		}
		go handle(c) // Go sets TCP_NODELAY by default
	}
}
