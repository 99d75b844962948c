// The engine as the wizards' component tests see it: IPC mocked command by command, every call
// recorded with its arguments so a test can say what was asked of the engine.
import { mockIPC } from "@tauri-apps/api/mocks";

export type Handler = (args: Record<string, unknown>) => unknown;

export const INFO = { version: "0.1.0", data_dir: "/tmp/t", log_dir: "/tmp/t/logs", lab: null };

/** What is not in `handlers` is answered by `defaults`; a command in neither fails the test. */
export function recordingEngine(handlers: Record<string, Handler>, defaults: Record<string, Handler>) {
  const calls: { cmd: string; args: Record<string, unknown> }[] = [];
  mockIPC((cmd, args) => {
    const a = (args ?? {}) as Record<string, unknown>;
    calls.push({ cmd, args: a });
    const handler = handlers[cmd] ?? defaults[cmd];
    if (handler) return handler(a);
    throw new Error(`unexpected command ${cmd}`);
  });
  const of = (cmd: string) => calls.filter((c) => c.cmd === cmd);
  /** The arguments of the n-th call of `cmd` (it must have happened). */
  const args = (cmd: string, n = 0) => {
    const call = of(cmd)[n];
    if (!call) throw new Error(`${cmd} was called ${of(cmd).length} times, not ${n + 1}`);
    return call.args;
  };
  return { calls, of, args };
}
