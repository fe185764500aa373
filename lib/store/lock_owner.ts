/**
 * Who owns a lock, in a form that survives pid reuse: the pid, the host, the
 * boot id (`/proc/sys/kernel/random/boot_id`) and the process start time
 * (`/proc/<pid>/stat` field 22, clock ticks since boot). A lock whose pid is
 * now another process (the machine rebooted, or pids wrapped) is told apart
 * from one whose owner still runs.
 *
 * @module
 */

/** The owner fields a lock file records. */
export interface LockOwner {
  pid: number;
  host: string;
  /** When the lock was taken (ms since the epoch). */
  created: number;
  /** Boot id of the machine the owner ran on (Linux). */
  bootId?: string;
  /** Start time of the owner process, clock ticks since boot (Linux, exact decimal). */
  startTime?: string;
}

/** What is known about a lock's owner. */
export type OwnerStatus =
  | { status: "alive" }
  | { status: "gone"; reason: string }
  /** Another host, or no `/proc`: only the lock's age can tell. */
  | { status: "unknown" };

/** `sysconf(_SC_CLK_TCK)`: USER_HZ, 100 on every Linux architecture Deno runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

/** This machine's host name ("unknown" when it cannot be read). */
export function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown";
  }
}

/** A small `/proc` file: its text, "missing" (no such file) or "denied" (no permission, no /proc). */
async function readProc(path: string): Promise<string | "missing" | "denied"> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    return e instanceof Deno.errors.NotFound ? "missing" : "denied";
  }
}

async function readSmall(path: string): Promise<string | undefined> {
  const text = await readProc(path);
  return text === "missing" || text === "denied" ? undefined : text;
}

/** The boot id of this machine, when the kernel exposes one. */
export async function bootId(): Promise<string | undefined> {
  if (Deno.build.os !== "linux") return undefined;
  return (await readSmall("/proc/sys/kernel/random/boot_id"))?.trim() || undefined;
}

/**
 * Field 22 (`starttime`) of `/proc/<pid>/stat`, or undefined when no such
 * process runs. The command name (field 2) may hold spaces and parentheses:
 * fields are counted from the last `)`.
 */
export async function processStartTime(pid: number): Promise<string | undefined> {
  const start = await startTimeOf(pid);
  return start === "missing" || start === "denied" ? undefined : start;
}

async function startTimeOf(pid: number): Promise<string | "missing" | "denied"> {
  if (Deno.build.os !== "linux") return "denied";
  if (!Number.isSafeInteger(pid) || pid <= 0) return "missing";
  const stat = await readProc(`/proc/${pid}/stat`);
  if (stat === "missing" || stat === "denied") return stat;
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state): field 22 is fields[19].
  const start = fields[19];
  return start !== undefined && /^\d+$/.test(start) ? start : "denied";
}

/** Boot time of this machine (ms since the epoch), from `/proc/stat`'s `btime`. */
async function bootTimeMs(): Promise<number | undefined> {
  const m = /^btime (\d+)$/m.exec(await readSmall("/proc/stat") ?? "");
  return m ? Number(m[1]) * 1000 : undefined;
}

/** The identity of the current process. */
export async function currentOwner(created: number): Promise<LockOwner> {
  const [boot, start] = await Promise.all([bootId(), processStartTime(Deno.pid)]);
  return {
    pid: Deno.pid,
    host: hostname(),
    created,
    ...(boot ? { bootId: boot } : {}),
    ...(start ? { startTime: start } : {}),
  };
}

/**
 * Does the owner of a lock still run? On the same Linux host, with `/proc`
 * readable (else "unknown"): gone when the
 * machine rebooted since (other boot id), when its pid runs no process, or
 * when that pid is a process started at another time than the owner (pid
 * reuse). A lock written without a start time counts as gone when the
 * process now holding the pid started after the lock was taken.
 */
export async function ownerStatus(owner: LockOwner): Promise<OwnerStatus> {
  if (owner.host !== hostname() || Deno.build.os !== "linux") return { status: "unknown" };
  const boot = await bootId();
  if (owner.bootId !== undefined && boot !== undefined && owner.bootId !== boot) {
    return { status: "gone", reason: "the machine restarted since" };
  }
  // Without read access to /proc (a least-privilege run, no /proc mounted) nothing can be told.
  const self = await startTimeOf(Deno.pid);
  if (self === "missing" || self === "denied") return { status: "unknown" };
  const start = await startTimeOf(owner.pid);
  if (start === "denied") return { status: "unknown" };
  if (start === "missing") return { status: "gone", reason: `pid ${owner.pid} no longer runs` };
  if (owner.startTime !== undefined) {
    return owner.startTime === start
      ? { status: "alive" }
      : { status: "gone", reason: `pid ${owner.pid} is now another process` };
  }
  const booted = await bootTimeMs();
  if (booted === undefined) return { status: "alive" };
  const startedAt = booted + Number(start) * 1000 / CLOCK_TICKS_PER_SECOND;
  // The owner started before it took the lock; allow for the tick and btime rounding.
  return startedAt > owner.created + 2000
    ? { status: "gone", reason: `pid ${owner.pid} is now another process (started later)` }
    : { status: "alive" };
}
