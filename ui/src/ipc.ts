// The one way the UI calls Standby: the generated, typed commands, with errors kept as
// `{code, message}` so that each screen can show them where they happen.
import { useCallback, useEffect, useState } from "react";

import type { ApiError } from "./bindings";

export type Outcome<T> = { status: "ok"; data: T } | { status: "error"; error: ApiError };

export type Loaded<T> =
  | { state: "loading" }
  | { state: "ready"; data: T }
  | { state: "failed"; error: ApiError };

/** Turns a thrown value (a command that does not return a Result) into an ApiError. */
export function toApiError(e: unknown): ApiError {
  if (e && typeof e === "object" && "code" in e && "message" in e) return e as ApiError;
  return { code: "internal", message: e instanceof Error ? e.message : String(e) };
}

/** Runs a command when the component mounts and on `reload()`. */
export function useCommand<T>(run: () => Promise<Outcome<T> | T>): Loaded<T> & { reload: () => void } {
  const [loaded, setLoaded] = useState<Loaded<T>>({ state: "loading" });
  const [generation, setGeneration] = useState(0);
  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  useEffect(() => {
    let live = true;
    run()
      .then((out) => {
        if (!live) return;
        if (out && typeof out === "object" && "status" in out) {
          const o = out as Outcome<T>;
          setLoaded(o.status === "ok" ? { state: "ready", data: o.data } : { state: "failed", error: o.error });
        } else {
          setLoaded({ state: "ready", data: out as T });
        }
      })
      .catch((e: unknown) => live && setLoaded({ state: "failed", error: toApiError(e) }));
    return () => {
      live = false;
    };
    // `run` is a new closure on every render; the generation decides when to run again.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [generation]);
  return { ...loaded, reload };
}
