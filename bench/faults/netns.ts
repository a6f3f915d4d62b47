// A network namespace per faulted agent, joined to the host by a veth pair:
// the agent runs inside it (`ip netns exec`), reaches the controller through
// the host-side address, and a cut is the host side of the pair set down, so
// the agent's TCP connections go silent as on a pulled cable (no RST, no FIN).
// Only the project's own namespaces and veths are touched: their names carry
// this process's pid, and leftovers of a killed run (a pid no longer alive)
// are removed on start.
import { spawnSync } from 'node:child_process';

export interface Netns {
  name: string;
  hostIf: string;
  nsIf: string;
  /** The host side's address: what the agent inside connects to. */
  hostIp: string;
  nsIp: string;
}

const NS_PREFIX = 'efault-';

function ip(args: string[], allowFail = false): string {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.error) throw new Error(`ip ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0 && !allowFail) throw new Error(`ip ${args.join(' ')}: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Why namespaces cannot be made here (not root, no iproute2, a sandbox), or null when they can. */
export function netnsUnavailable(): string | null {
  const probe = `${NS_PREFIX}${process.pid}-probe`;
  try {
    ip(['netns', 'add', probe]);
    ip(['netns', 'del', probe]);
    return null;
  } catch (err) {
    return `network namespaces are not permitted here (${(err as Error).message.split('\n')[0]})`;
  }
}

/** Namespaces and veths of runs whose process is gone (a SIGKILLed bench leaves them). */
export function removeLeftoverNetns(): string[] {
  const removed: string[] = [];
  let list = '';
  try {
    list = ip(['netns', 'list'], true);
  } catch {
    return removed;
  }
  for (const name of list.split('\n').map((l) => l.split(' ')[0])) {
    const m = new RegExp(`^${NS_PREFIX}(\\d+)-`).exec(name);
    if (m && !alive(Number(m[1]))) {
      ip(['netns', 'del', name], true);
      removed.push(name);
    }
  }
  for (const line of ip(['-o', 'link', 'show'], true).split('\n')) {
    const m = /^\d+:\s+(ef(\d+)h\d+)[@:]/.exec(line);
    if (m && !alive(Number(m[2]))) {
      ip(['link', 'del', m[1]], true);
      removed.push(m[1]);
    }
  }
  return removed;
}

/** Namespace number `index` of this process, with its veth pair up and addressed (a /30 per namespace). */
export function createNetns(index: number): Netns {
  if (!Number.isInteger(index) || index < 0 || index > 60) throw new Error(`namespace index ${index} out of 0..60`);
  const pid = process.pid;
  const ns: Netns = {
    name: `${NS_PREFIX}${pid}-${index}`,
    hostIf: `ef${pid}h${index}`,
    nsIf: `ef${pid}n${index}`,
    hostIp: `10.213.${pid % 250}.${index * 4 + 1}`,
    nsIp: `10.213.${pid % 250}.${index * 4 + 2}`,
  };
  try {
    ip(['netns', 'add', ns.name]);
    ip(['link', 'add', ns.hostIf, 'type', 'veth', 'peer', 'name', ns.nsIf]);
    ip(['link', 'set', ns.nsIf, 'netns', ns.name]);
    ip(['addr', 'add', `${ns.hostIp}/30`, 'dev', ns.hostIf]);
    ip(['link', 'set', ns.hostIf, 'up']);
    ip(['netns', 'exec', ns.name, 'ip', 'addr', 'add', `${ns.nsIp}/30`, 'dev', ns.nsIf]);
    ip(['netns', 'exec', ns.name, 'ip', 'link', 'set', ns.nsIf, 'up']);
    ip(['netns', 'exec', ns.name, 'ip', 'link', 'set', 'lo', 'up']);
  } catch (err) {
    removeNetns(ns);
    throw err;
  }
  return ns;
}

/** The command prefix that runs a program inside the namespace. */
export function inNetns(ns: Netns): string[] {
  return ['ip', 'netns', 'exec', ns.name];
}

/** Cuts the link: nothing passes either way until `restoreLink`. */
export function cutLink(ns: Netns): void {
  ip(['link', 'set', ns.hostIf, 'down']);
}

export function restoreLink(ns: Netns): void {
  ip(['link', 'set', ns.hostIf, 'up']);
  // the connected route comes back with the link; the address is re-added only if a kernel dropped it
  ip(['addr', 'replace', `${ns.hostIp}/30`, 'dev', ns.hostIf], true);
}

/** Removes the namespace (its veth pair goes with it). Safe to call twice. */
export function removeNetns(ns: Netns): void {
  ip(['netns', 'del', ns.name], true);
  ip(['link', 'del', ns.hostIf], true);
}
