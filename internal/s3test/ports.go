package s3test

import (
	"errors"
	"math/rand/v2"
	"net"
	"strconv"
)

const (
	// portCount is the number of HTTP ports from the base: master, volume,
	// filer, S3 and admin.
	portCount = 5
	// grpcPortOffset is the distance from each HTTP port to its gRPC port,
	// a SeaweedFS convention.
	grpcPortOffset = 10000
	// minPortBase and maxPortBase bound the random port base. The HTTP
	// ports stay below Linux's default ephemeral range (32768-60999). Some
	// gRPC ports fall inside it, so an outgoing connection can take one,
	// which the bind check and the start retry cover.
	minPortBase = 20000
	maxPortBase = 29000
	// portBaseTries is how many random bases to check before giving up.
	portBaseTries = 50
)

// ports holds the listen ports of one server.
type ports struct {
	base int
}

func (p ports) master() int { return p.base }
func (p ports) volume() int { return p.base + 1 }
func (p ports) filer() int  { return p.base + 2 }
func (p ports) s3() int     { return p.base + 3 }
func (p ports) admin() int  { return p.base + 4 }

// freePorts returns a random port base whose HTTP and gRPC ports can all be
// bound on 127.0.0.1 right now. Another process may still take one before
// the server binds it, so callers retry on a failed start.
func freePorts() (ports, error) {
	for range portBaseTries {
		base := minPortBase + rand.IntN(maxPortBase-minPortBase)
		if portsFree(base) {
			return ports{base: base}, nil
		}
	}
	return ports{}, errors.New("no free port base on 127.0.0.1 in " +
		strconv.Itoa(minPortBase) + "-" + strconv.Itoa(maxPortBase))
}

// portsFree reports whether base..base+4 and the matching gRPC ports can
// be bound on 127.0.0.1.
func portsFree(base int) bool {
	for i := range portCount {
		for _, port := range []int{base + i, base + i + grpcPortOffset} {
			if !portFree(port) {
				return false
			}
		}
	}
	return true
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1",
		strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}
