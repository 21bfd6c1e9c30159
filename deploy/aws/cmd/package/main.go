// Command package builds the two Lambda bootstraps of aigate for
// provided.al2023 on arm64 and packs each into the zip the Pulumi program
// deploys:
//
//	cd deploy/aws && go run ./cmd/package
//
// writes dist/authorizer.zip (./cmd/authorizer) and dist/aiapi.zip
// (./cmd/aiapi), each holding one executable file, bootstrap, built with
//
//	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -tags lambda.norpc -trimpath -ldflags "-s -w"
//
// from the aigate module's root. The zips are reproducible (fixed times,
// fixed mode): the same binary gives the same zip, so `pulumi up` updates a
// function only when its code changed.
package main

import (
	"archive/zip"
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// rootModule is the module whose commands are built.
const rootModule = "github.com/aigate/aigate"

// functions are the Lambdas: zip name → package in the root module.
var functions = []struct{ name, pkg string }{
	{"authorizer", "./cmd/authorizer"},
	{"aiapi", "./cmd/aiapi"},
}

// zipTime is every entry's modification time, so that zips are reproducible.
var zipTime = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

func main() {
	repo := flag.String("repo", "", "the aigate module's root (default: found from the working directory)")
	out := flag.String("out", "dist", "directory for the zips")
	flag.Parse()
	if err := run(*repo, *out, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "package:", err)
		os.Exit(1)
	}
}

func run(repo, out string, log io.Writer) error {
	if repo == "" {
		var err error
		if repo, err = findRoot(); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "aigate-package-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for _, f := range functions {
		bin := filepath.Join(tmp, f.name, "bootstrap")
		cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w", "-o", bin, f.pkg)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("build %s: %w", f.pkg, err)
		}
		zipPath := filepath.Join(out, f.name+".zip")
		sum, err := writeZip(zipPath, bin)
		if err != nil {
			return fmt.Errorf("pack %s: %w", zipPath, err)
		}
		st, _ := os.Stat(zipPath)
		fmt.Fprintf(log, "%s  %d bytes  sha256 %s\n", zipPath, st.Size(), sum)
	}
	return nil
}

// writeZip packs bin as the executable entry bootstrap, atomically.
func writeZip(path, bin string) (string, error) {
	src, err := os.Open(bin)
	if err != nil {
		return "", err
	}
	defer src.Close()
	tmp, err := os.CreateTemp(filepath.Dir(path), ".package-*.zip")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o644); err != nil {
		return "", err
	}
	h := sha256.New()
	zw := zip.NewWriter(io.MultiWriter(tmp, h))
	hdr := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate, Modified: zipTime}
	// Lambda runs bootstrap as is: it must carry the exec bits.
	hdr.SetMode(0o755)
	w, err := zw.CreateHeader(hdr)
	if err == nil {
		_, err = io.Copy(w, bufio.NewReader(src))
	}
	if err == nil {
		err = zw.Close()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// findRoot walks up from the working directory to the aigate module's go.mod.
func findRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && modulePath(string(b)) == rootModule {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no " + rootModule + " go.mod above the working directory: pass -repo")
		}
		dir = parent
	}
}

func modulePath(gomod string) string {
	for _, line := range strings.Split(gomod, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}
