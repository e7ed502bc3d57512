// Package weedtest runs a real S3-compatible server, SeaweedFS, for the
// tests of the S3 media store (SPEC §8: no mock object store). One server
// serves a whole test process, started on first use and killed with it;
// each caller gets a bucket of its own. The binary is built by
// .ci/seaweedfs (about 7 minutes, once per version, cached outside the
// repository); SEAWEEDFS_BIN overrides where it is looked for.
package weedtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Version is the SeaweedFS module version .ci/seaweedfs builds.
const Version = "v0.0.0-20261109003541-7506e5f91cd6"

var (
	once     sync.Once
	endpoint string
	startErr error
	logPath  string
)

// Bucket returns the MEDIA_STORE of a fresh, empty bucket on the shared
// server, starting it if needed.
func Bucket(tb testing.TB) string {
	tb.Helper()
	once.Do(func() { endpoint, startErr = start() })
	if startErr != nil {
		tb.Fatalf("SeaweedFS: %v", startErr)
	}
	client, err := minio.New(endpoint, &minio.Options{Creds: credentials.NewStaticV4("test", "test", "")})
	if err != nil {
		tb.Fatal(err)
	}
	var b [6]byte
	rand.Read(b[:])
	bucket := "t-" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := client.MakeBucket(ctx, bucket, minio.MakeBucketOptions{Region: "us-east-1"}); err != nil {
		tb.Fatalf("make bucket %s: %v", bucket, err)
	}
	return fmt.Sprintf("s3://%s?endpoint=%s&region=us-east-1&tls=false", bucket, endpoint)
}

// Env is the environment an S3 store opened on Bucket's server reads its
// credentials from (the server, with no identities configured, takes any).
func Env(k string) string {
	return map[string]string{"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}[k]
}

func binary() (string, error) {
	if p := os.Getenv("SEAWEEDFS_BIN"); p != "" {
		return p, nil
	}
	cache := os.Getenv("SETS_CACHE")
	if cache == "" {
		base := os.Getenv("XDG_CACHE_HOME")
		if base == "" {
			home, _ := os.UserHomeDir()
			base = filepath.Join(home, ".cache")
		}
		cache = filepath.Join(base, "sets")
	}
	p := filepath.Join(cache, "weed-"+Version)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("no weed binary at %s: build it with `bash .ci/seaweedfs` (about 7 minutes, once), or set SEAWEEDFS_BIN", p)
	}
	return p, nil
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func start() (string, error) {
	bin, err := binary()
	if err != nil {
		return "", err
	}
	removeStale()
	dir, err := os.MkdirTemp("", "sets-weed-")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return "", err
	}
	p, err := freePorts(8)
	if err != nil {
		return "", err
	}
	logPath = filepath.Join(dir, "weed.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return "", err
	}
	cmd := exec.Command(bin, "server", "-dir="+dir, "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		fmt.Sprintf("-master.port=%d", p[0]), fmt.Sprintf("-master.port.grpc=%d", p[1]),
		fmt.Sprintf("-volume.port=%d", p[2]), fmt.Sprintf("-volume.port.grpc=%d", p[3]),
		"-filer", fmt.Sprintf("-filer.port=%d", p[4]), fmt.Sprintf("-filer.port.grpc=%d", p[5]),
		"-s3", fmt.Sprintf("-s3.port=%d", p[6]), fmt.Sprintf("-s3.port.grpc=%d", p[7]),
		"-master.volumeSizeLimitMB=64", "-volume.max=0")
	cmd.Stdout, cmd.Stderr = logf, logf
	// The server dies with the test process, whatever ends it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start %s: %w", bin, err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", p[6])
	client, err := minio.New(addr, &minio.Options{Creds: credentials.NewStaticV4("test", "test", "")})
	if err != nil {
		return "", err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := client.ListBuckets(ctx)
		cancel()
		if err == nil {
			return addr, nil
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logPath)
			return "", fmt.Errorf("no S3 answer at %s after 60 s (%v); log:\n%s", addr, err, tail(string(b), 3000))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// removeStale removes the data of servers whose test process has ended
// (each died with it, but its directory stays).
func removeStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "sets-weed-*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "owner.pid"))
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || syscall.Kill(pid, 0) != nil {
			os.RemoveAll(d)
		}
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return strings.TrimSpace(s)
}
