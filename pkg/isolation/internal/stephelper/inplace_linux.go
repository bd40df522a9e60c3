package stephelper

import (
	"os"
	"syscall"
)

// prSetChildSubreaper is PR_SET_CHILD_SUBREAPER of linux/prctl.h.
const prSetChildSubreaper = 36

// An isolation none step runs in place, and the helper ends what it
// left: a daemon it started (a database, gpg-agent, `cmd &`) would
// otherwise go on writing into the files of the steps after it, which
// then land in their layers. Orphans of the step are re-parented to the
// helper, a child subreaper, however they detached (a new session, a
// double fork), so every process left is a descendant of the helper.
func becomeSubreaper() error {
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		return wrap("becoming the step's subreaper", errno)
	}
	return nil
}

// endLeftovers kills every descendant of the helper and reaps them, until
// none is left, or gives up after about two seconds (a process it may not
// signal: a setuid one, when the builder is not root). Every descendant
// is below one of the helper's children, so a helper with none has
// nothing to look for in /proc: the usual step.
func endLeftovers() {
	self := os.Getpid()
	for round := 0; round < 2000 && reapZombies(); round++ {
		left := descendants(self)
		if len(left) == 0 {
			return
		}
		for _, pid := range left {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		if !reapZombies() {
			return
		}
		ts := syscall.Timespec{Nsec: 1_000_000}
		syscall.Nanosleep(&ts, nil)
	}
}

// reapZombies reaps every child that has ended, without waiting, and
// tells whether any child is left.
func reapZombies() bool {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return err != syscall.ECHILD
		case pid <= 0:
			return true // children, none ended
		}
	}
}

// descendants lists the processes below pid, from each process's parent
// in /proc/PID/stat.
func descendants(pid int) []int {
	dir, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	names, _ := dir.Readdirnames(-1)
	dir.Close()
	children := map[int][]int{}
	for _, name := range names {
		p, ok := atoi(name)
		if !ok {
			continue
		}
		if parent, ok := parentOf(p); ok {
			children[parent] = append(children[parent], p)
		}
	}
	var out []int
	queue := children[pid]
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		out = append(out, p)
		queue = append(queue, children[p]...)
	}
	return out
}

// parentOf reads a process's parent from /proc/PID/stat: the fourth
// field, the second after the command name, which is in parentheses and
// may hold spaces and parentheses itself.
func parentOf(pid int) (int, bool) {
	data, err := os.ReadFile("/proc/" + itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	end := -1
	for i := len(data) - 1; i >= 0; i-- {
		if data[i] == ')' {
			end = i
			break
		}
	}
	// ") S PPID ..."
	if end < 0 || end+4 > len(data) {
		return 0, false
	}
	rest := data[end+4:]
	n := 0
	for n < len(rest) && rest[n] != ' ' {
		n++
	}
	return atoi(string(rest[:n]))
}
