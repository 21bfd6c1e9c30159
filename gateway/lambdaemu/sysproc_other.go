//go:build unix && !linux

package lambdaemu

import "syscall"

func setParentDeathSignal(*syscall.SysProcAttr) {}
