import { act, cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { emit } from "@tauri-apps/api/event";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { afterEach, describe, expect, it } from "vitest";

import { App } from "./App";
import type { NotificationFilter_Deserialize, Notification_Serialize } from "./bindings";
import { PAGE_SIZE } from "./pages/Notifications";

type N = Notification_Serialize;

const ACCOUNTS = [
  { id: "acc-ahv", name: "ahv-primary", kind: "ahv", endpoint: "https://10.0.0.1:9440", created_at: "2026-11-22T09:00:00Z" },
  { id: "acc-az", name: "azure-prod", kind: "azure", endpoint: "https://management.azure.com", created_at: "2026-11-22T09:00:00Z" },
];

function note(id: number, over: Partial<N> = {}): N {
  return {
    id,
    at: new Date(Date.parse("2026-11-22T09:00:00Z") + id * 60_000).toISOString(),
    level: "info",
    title: `Notification ${id}`,
    body: "",
    account_id: null,
    account_name: null,
    job_id: null,
    read: false,
    ...over,
  };
}

/**
 * A stand-in for the engine: holds notifications, answers the four commands with the catalog's
 * rules (newest first, filters, keyset paging), and records every filter it was asked for.
 */
function fakeEngine(initial: N[], opts: { listError?: string } = {}) {
  const engine = {
    rows: [...initial],
    filters: [] as NotificationFilter_Deserialize[],
    unread: () => engine.rows.filter((n) => !n.read).length,
  };
  mockIPC(
    (cmd, args) => {
      const a = args as Record<string, unknown> | undefined;
      switch (cmd) {
        case "app_info":
          return { version: "0.1.0", data_dir: "/tmp/t", log_dir: "/tmp/t/logs", lab: null };
        case "list_cloud_accounts":
          return ACCOUNTS;
        case "unread_notification_count":
          return engine.unread();
        case "recent_jobs": // the jobs panel at the top of the page
          return [];
        case "list_notifications": {
          const f = a!.filter as NotificationFilter_Deserialize;
          engine.filters.push(f);
          if (opts.listError) throw { code: "storage", message: opts.listError };
          const sorted = [...engine.rows].sort((x, y) => y.id - x.id);
          return sorted
            .filter((n) => !f.level || n.level === f.level)
            .filter((n) => !f.account_id || n.account_id === f.account_id)
            .filter((n) => !f.unread_only || !n.read)
            .filter((n) => !f.search || `${n.title} ${n.body}`.toLowerCase().includes(f.search.toLowerCase()))
            .filter((n) => f.before_id == null || n.id < f.before_id)
            .slice(0, f.limit ?? 50);
        }
        case "mark_notifications_read": {
          const ids = a!.ids as number[];
          let changed = 0;
          for (const n of engine.rows)
            if (ids.includes(n.id) && !n.read) {
              n.read = true;
              changed++;
            }
          return changed;
        }
        case "mark_all_notifications_read": {
          const changed = engine.unread();
          for (const n of engine.rows) n.read = true;
          return changed;
        }
        default:
          throw new Error(`unexpected command ${cmd}`);
      }
    },
    { shouldMockEvents: true },
  );
  return engine;
}

afterEach(() => {
  cleanup();
  clearMocks();
});

async function openNotifications() {
  render(<App />);
  fireEvent.click(document.querySelector('[data-nav="notifications"]')!);
  await screen.findByRole("heading", { level: 1, name: "Notifications" });
}

function bell() {
  return within(screen.getByRole("banner")).getByRole("button", { name: /^Notifications/ });
}

function rows() {
  return within(screen.getByRole("list", { name: "Notifications, newest first" })).getAllByRole("listitem");
}

describe("the notification center", () => {
  it("lists the engine's notifications newest first with level, account and time", async () => {
    fakeEngine([
      note(1, { level: "success", title: "Backup of vol-1 done", account_id: "acc-ahv", account_name: "ahv-primary", read: true }),
      note(2, { level: "error", title: "Restore failed", body: "The replica is incomplete: wait for it", job_id: "4f1c2d9a-77aa" }),
    ]);
    await openNotifications();
    await waitFor(() => expect(rows()).toHaveLength(2));
    const [first, second] = rows();
    expect(first!.textContent).toContain("Restore failed");
    expect(first!.textContent).toContain("The replica is incomplete: wait for it");
    expect(first!.textContent).toContain("Unread. Error:");
    expect(first!.textContent).toContain("job 4f1c2d9a");
    expect(first!.querySelector("time")!.getAttribute("dateTime")).toBe(note(2).at);
    expect(second!.textContent).toContain("Backup of vol-1 done");
    expect(second!.textContent).toContain("Success:");
    expect(second!.textContent).not.toContain("Unread.");
    expect(within(second!).getByTestId("notification-account").textContent).toBe("ahv-primary");
    expect(screen.queryByText("No notifications yet")).toBeNull();
    // Fewer than a page: nothing older to ask for.
    expect(screen.queryByRole("button", { name: "Load older" })).toBeNull();
  });

  it("asks the engine with each filter the administrator sets", async () => {
    const engine = fakeEngine([
      note(1, { level: "error", account_id: "acc-az", account_name: "azure-prod", title: "Copy to westus failed" }),
    ]);
    await openNotifications();
    await waitFor(() => expect(rows()).toHaveLength(1));
    expect(engine.filters.at(-1)).toEqual({
      level: null,
      account_id: null,
      unread_only: false,
      search: null,
      limit: PAGE_SIZE,
      before_id: null,
    });

    fireEvent.click(screen.getByRole("radio", { name: "Error" }));
    await waitFor(() => expect(engine.filters.at(-1)?.level).toBe("error"));

    fireEvent.click(screen.getByRole("switch", { name: "Unread only" }));
    await waitFor(() => expect(engine.filters.at(-1)).toMatchObject({ level: "error", unread_only: true }));

    fireEvent.change(screen.getByRole("searchbox", { name: "Search" }), { target: { value: "  westus " } });
    await waitFor(() => expect(engine.filters.at(-1)?.search).toBe("westus"));

    const account = screen.getByRole("combobox", { name: "Account" });
    await waitFor(() => expect((account as HTMLInputElement).disabled).toBe(false));
    fireEvent.click(account);
    // jsdom never ends the dropdown's opening transition, so its options count as hidden.
    fireEvent.click(await screen.findByRole("option", { name: "azure-prod", hidden: true }));
    await waitFor(() =>
      expect(engine.filters.at(-1)).toEqual({
        level: "error",
        account_id: "acc-az",
        unread_only: true,
        search: "westus",
        limit: PAGE_SIZE,
        before_id: null,
      }),
    );
    await waitFor(() => expect(rows()).toHaveLength(1));
  });

  it("marks all as read and the bell's count follows", async () => {
    const engine = fakeEngine([note(1), note(2), note(3, { read: true })]);
    await openNotifications();
    await waitFor(() => expect(bell().getAttribute("aria-label")).toBe("Notifications, 2 unread"));
    fireEvent.click(screen.getByRole("button", { name: "Mark all as read" }));
    await waitFor(() => expect(bell().getAttribute("aria-label")).toBe("Notifications"));
    expect(engine.unread()).toBe(0);
    expect(rows().every((r) => r.getAttribute("data-read") === "true")).toBe(true);
    expect((screen.getByRole("button", { name: "Mark all as read" }) as HTMLButtonElement).disabled).toBe(true);
  });

  it("marks one as read", async () => {
    fakeEngine([note(1), note(2)]);
    await openNotifications();
    await waitFor(() => expect(bell().getAttribute("aria-label")).toBe("Notifications, 2 unread"));
    fireEvent.click(screen.getByRole("button", { name: "Mark “Notification 1” as read" }));
    await waitFor(() => expect(bell().getAttribute("aria-label")).toBe("Notifications, 1 unread"));
    expect(rows().map((r) => r.getAttribute("data-read"))).toEqual(["false", "true"]);
  });

  it("pages to older notifications from the last one shown", async () => {
    const engine = fakeEngine(Array.from({ length: PAGE_SIZE + 3 }, (_, i) => note(i + 1)));
    await openNotifications();
    await waitFor(() => expect(rows()).toHaveLength(PAGE_SIZE));
    fireEvent.click(screen.getByRole("button", { name: "Load older" }));
    await waitFor(() => expect(rows()).toHaveLength(PAGE_SIZE + 3));
    expect(engine.filters.at(-1)?.before_id).toBe(4);
    expect(rows().at(-1)!.textContent).toContain("Notification 1");
    expect(screen.queryByRole("button", { name: "Load older" })).toBeNull();
  });

  it("shows a notification the engine adds while the page is open, and counts it", async () => {
    const engine = fakeEngine([note(1, { read: true })]);
    await openNotifications();
    await waitFor(() => expect(rows()).toHaveLength(1));
    expect(bell().getAttribute("aria-label")).toBe("Notifications");
    const added = note(7, { level: "warning", title: "vol-9 skipped: user in session" });
    await act(async () => {
      // The engine stores before it emits, so the count includes it.
      engine.rows.push(added);
      await emit("notification-added", added);
    });
    await waitFor(() => expect(rows()).toHaveLength(2));
    expect(rows()[0]!.textContent).toContain("vol-9 skipped: user in session");
    await waitFor(() => expect(bell().getAttribute("aria-label")).toBe("Notifications, 1 unread"));
  });

  it("keeps the honest empty state for an empty center", async () => {
    fakeEngine([]);
    await openNotifications();
    expect(await screen.findByText("No notifications yet")).toBeTruthy();
    expect((screen.getByRole("button", { name: "Mark all as read" }) as HTMLButtonElement).disabled).toBe(true);
  });

  it("says when the filters hide everything, and clears them", async () => {
    const engine = fakeEngine([note(1, { level: "info" })]);
    await openNotifications();
    await waitFor(() => expect(rows()).toHaveLength(1));
    fireEvent.click(screen.getByRole("radio", { name: "Error" }));
    expect(await screen.findByText("No notification matches these filters")).toBeTruthy();
    expect(screen.queryByText("No notifications yet")).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "Clear filters" }));
    await waitFor(() => expect(rows()).toHaveLength(1));
    expect(engine.filters.at(-1)?.level).toBeNull();
  });

  it("shows the engine's error where the list would be", async () => {
    fakeEngine([], { listError: "catalog query failed: disk I/O error" });
    await openNotifications();
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("Notifications could not be read");
    expect(alert.textContent).toContain("disk I/O error");
  });
});
