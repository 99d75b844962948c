// The notification center's shared state: the unread count the bell shows, and the live
// `notification-added` event both the bell and the page follow.
import { createContext, useCallback, useContext, useEffect, useRef, useState, type ReactNode } from "react";

import { commands, events, type Notification_Serialize } from "../bindings";

export type StoredNotification = Notification_Serialize;

type Unread = {
  /** `null` until the engine has answered (or when it could not). */
  count: number | null;
  /** Asks the engine again: after marking read, or when an event says something changed. */
  refresh: () => void;
};

const UnreadContext = createContext<Unread>({ count: null, refresh: () => {} });

export function useUnread(): Unread {
  return useContext(UnreadContext);
}

/** Calls `onAdded` for every notification the engine stores while the window is open. */
export function useNotificationAdded(onAdded: (n: StoredNotification) => void) {
  const latest = useRef(onAdded);
  useEffect(() => {
    latest.current = onAdded;
  });
  useEffect(() => {
    let live = true;
    let unlisten: (() => void) | undefined;
    events.notificationAdded
      .listen((e) => latest.current(e.payload))
      .then((u) => {
        if (live) unlisten = u;
        else u();
      })
      // Without the event channel the page still lists what is stored on its next load.
      .catch(() => {});
    return () => {
      live = false;
      unlisten?.();
    };
  }, []);
}

/** Holds the unread count for the whole window; the engine's count is the only truth. */
export function UnreadProvider(props: { children: ReactNode }) {
  const [count, setCount] = useState<number | null>(null);
  // Answers can arrive out of order (an event right after "mark all read"): keep the newest ask's.
  const asked = useRef(0);
  const refresh = useCallback(() => {
    const ask = ++asked.current;
    commands
      .unreadNotificationCount()
      .then((out) => {
        if (ask !== asked.current) return;
        setCount(out.status === "ok" ? out.data : null);
      })
      .catch(() => ask === asked.current && setCount(null));
  }, []);
  useEffect(() => {
    refresh();
  }, [refresh]);
  useNotificationAdded(refresh);
  return <UnreadContext.Provider value={{ count, refresh }}>{props.children}</UnreadContext.Provider>;
}
