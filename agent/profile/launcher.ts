// How the profiler starts its child node process. By default the child runs
// this process's own node binary directly. An arm64 node on an x86 box runs
// under qemu user emulation, and where the kernel has no binfmt_misc entry for
// arm64 (CI machines usually have none) that binary cannot be exec'd: the fork
// ended 'exited with code 2 … ELF…: not found'. EDGEFIT_NODE_LAUNCHER names a
// command to start node through (e.g. `qemu-aarch64-static`); the real node
// then becomes the launcher's first argument.

export const NODE_LAUNCHER_ENV = 'EDGEFIT_NODE_LAUNCHER';

/** fork()'s execPath, and the arguments that go before the child's own node flags. */
export interface NodeLaunch {
  execPath: string;
  execArgv: string[];
}

/**
 * The launch for a child node process. `launcher` is a command and its
 * arguments separated by blanks (no quoting: a path with blanks cannot be
 * named); empty or blank means none.
 */
export function nodeLaunch(nodePath: string, launcher: string | undefined): NodeLaunch {
  const words = (launcher ?? '').trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return { execPath: nodePath, execArgv: [] };
  return { execPath: words[0], execArgv: [...words.slice(1), nodePath] };
}
