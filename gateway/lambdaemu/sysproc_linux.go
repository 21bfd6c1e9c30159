package lambdaemu

import "syscall"

// setParentDeathSignal makes the kernel kill the emulator if the gateway dies
// without calling Close, so no emulator outlives its gateway. (Linux sends it
// when the thread that started the process exits; the Go runtime keeps its
// threads unless a goroutine locked to one exits, which this package never
// does.)
func setParentDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
