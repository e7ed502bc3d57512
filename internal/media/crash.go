package media

import (
	"os"
	"syscall"
)

// crashPoint is SETS_TEST_CRASH_AT, read once: the name of the step at which
// CrashPoint kills the process. Only TestCrashesLeaveOnlyWhatMediaGCRemoves
// sets it, to show that a crash between any two steps of an upload or a
// deletion leaves at most files without rows, which `db media-gc` removes.
var crashPoint = os.Getenv("SETS_TEST_CRASH_AT")

// CrashPoint kills the process with SIGKILL, as the OOM killer or a power
// cut would (no deferred cleanup runs), when SETS_TEST_CRASH_AT names point.
func CrashPoint(point string) {
	if crashPoint != "" && crashPoint == point {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}
