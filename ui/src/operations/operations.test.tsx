import { MantineProvider } from "@mantine/core";
import { act, cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { emit } from "@tauri-apps/api/event";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import type { ReactNode } from "react";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

import { theme } from "../theme";
import { BackupAllDialog } from "./BackupAllDialog";
import { CloneDialog } from "./CloneDialog";
import { JobsPanel } from "./JobsPanel";

type Handler = (args: Record<string, unknown>) => unknown;

/** The engine, mocked per test, with events: each command answers from `handlers`; any other fails. */
function engine(handlers: Record<string, Handler>) {
  const calls: { cmd: string; args: Record<string, unknown> }[] = [];
  mockIPC(
    (cmd, args) => {
      const a = (args ?? {}) as Record<string, unknown>;
      calls.push({ cmd, args: a });
      const h = handlers[cmd];
      if (h) return h(a);
      throw new Error(`unexpected command ${cmd}`);
    },
    { shouldMockEvents: true },
  );
  const of = (cmd: string) => calls.filter((c) => c.cmd === cmd);
  return { calls, of };
}

const wrap = (ui: ReactNode) => render(<MantineProvider theme={theme}>{ui}</MantineProvider>);

// jsdom lays nothing out: give scroll containers a size so the virtualised lists draw a screenful.
const sizes = ["clientHeight", "clientWidth"] as const;
const saved = sizes.map((p) => Object.getOwnPropertyDescriptor(HTMLElement.prototype, p));
beforeAll(() => {
  Object.defineProperty(HTMLElement.prototype, "clientHeight", { configurable: true, get: () => 320 });
  Object.defineProperty(HTMLElement.prototype, "clientWidth", { configurable: true, get: () => 800 });
});
afterAll(() => {
  sizes.forEach((p, i) => saved[i] && Object.defineProperty(HTMLElement.prototype, p, saved[i]!));
});

afterEach(() => {
  cleanup();
  clearMocks();
});

const planned = (i: number) => ({
  volume_id: `/disks/acme-pd-desk-${String(i).padStart(4, "0")}-osdisk`,
  volume_name: `acme-pd-desk-${String(i).padStart(4, "0")}-osdisk`,
  kind: "persistent_desktop",
  vm_id: null,
  location: "westeurope",
  power_cycle: i === 1,
});

const dryRun = (eligible: number) => ({
  job_id: null,
  plan: {
    eligible: Array.from({ length: eligible }, (_, i) => planned(i + 1)),
    skipped: [
      {
        volume_id: "/disks/acme-pd-desk-0900-osdisk",
        volume_name: "acme-pd-desk-0900-osdisk",
        reason: "in_session",
        message: "bob@acme-pd.example is in session: the desktop is left alone",
      },
      {
        volume_id: "/disks/acme-pd-template-w11",
        volume_name: "acme-pd-template-w11",
        reason: "template",
        message: "template images are not backed up",
      },
    ],
  },
  backups: [],
  failures: [],
});

const backup = (volume: string, site: "primary" | "replica") => ({
  id: `${volume}-${site}`,
  job_id: "j-all",
  account_id: "z1",
  frame_account: "acme-pd",
  volume_id: volume,
  volume_name: volume,
  name: "Before the upgrade",
  kind: "manual",
  site,
  location: site === "primary" ? "westeurope" : "northeurope",
  provider_ref: null,
  state: "available",
  percent: 100,
  replica_of: null,
  error: null,
  created_at: "2026-11-22T10:00:00Z",
  updated_at: "2026-11-22T10:00:00Z",
});

describe("Backup all volumes", () => {
  it("lists the dry run's volumes and each skip with the engine's reason", async () => {
    const e = engine({ plan_backup_all: () => dryRun(3) });
    wrap(<BackupAllDialog account="z1" frameAccount="acme-pd" onClose={() => {}} />);
    const list = await screen.findByRole("list", { name: "Volumes to back up" });
    expect(within(list).getByText("acme-pd-desk-0001-osdisk")).toBeTruthy();
    expect(within(list).getAllByRole("listitem")).toHaveLength(3);
    expect(screen.getByTestId("backup-all-counts").textContent).toContain("3 volumes to back up");
    expect(screen.getByTestId("backup-all-counts").textContent).toContain("2 skipped");
    const req = e.of("plan_backup_all")[0]!.args.request as Record<string, unknown>;
    expect(req).toMatchObject({ account: "z1", frame_account: "acme-pd", kind: "manual", dry_run: true, actor: "window" });

    fireEvent.click(screen.getByRole("radio", { name: "Skipped (2)" }));
    const skipped = await screen.findByRole("list", { name: "Skipped volumes" });
    expect(within(skipped).getByText("bob@acme-pd.example is in session: the desktop is left alone")).toBeTruthy();
    expect(within(skipped).getByText("template images are not backed up")).toBeTruthy();
    expect(within(skipped).getByText("in session")).toBeTruthy();
  });

  it("draws only a screenful of a long dry run", async () => {
    engine({ plan_backup_all: () => dryRun(5000) });
    wrap(<BackupAllDialog account="z1" frameAccount="acme-pd" onClose={() => {}} />);
    const list = await screen.findByRole("list", { name: "Volumes to back up" });
    const rows = within(list).getAllByRole("listitem");
    expect(rows.length).toBeGreaterThan(5);
    expect(rows.length).toBeLessThan(40);
    expect(rows[0]!.getAttribute("aria-setsize")).toBe("5000");
  });

  it("asks for confirmation, then backs up for real with the name given and shows the outcome", async () => {
    let resolve: (v: unknown) => void = () => {};
    const e = engine({
      plan_backup_all: () => dryRun(2),
      backup_all: () => new Promise((r) => (resolve = r)),
    });
    wrap(<BackupAllDialog account="z1" frameAccount="acme-pd" onClose={() => {}} />);
    const run = await screen.findByRole("button", { name: "Back up all" });
    expect((run as HTMLButtonElement).disabled).toBe(true);
    fireEvent.change(screen.getByLabelText(/Backup name/), { target: { value: "Before the upgrade" } });
    fireEvent.click(screen.getByRole("checkbox", { name: "Back up 2 volumes now" }));
    expect((run as HTMLButtonElement).disabled).toBe(false);
    fireEvent.click(run);

    await waitFor(() => expect(e.of("backup_all")).toHaveLength(1));
    const { ticket, request } = e.of("backup_all")[0]!.args as { ticket: string; request: Record<string, unknown> };
    expect(ticket).toBeTruthy();
    expect(request).toMatchObject({ dry_run: false, name: "Before the upgrade", account: "z1", frame_account: "acme-pd" });
    // While it runs: its bar, and no outcome before the engine's answer.
    expect(screen.getByRole("progressbar", { name: "Backup of all volumes" })).toBeTruthy();
    expect(screen.queryByTestId("backup-all-outcome")).toBeNull();
    await act(async () =>
      resolve({
        job_id: "j-all",
        plan: dryRun(2).plan,
        backups: [
          backup("acme-pd-desk-0001-osdisk", "primary"),
          backup("acme-pd-desk-0002-osdisk", "primary"),
          backup("acme-pd-desk-0001-osdisk", "replica"),
        ],
        failures: [],
      }),
    );
    const outcome = await screen.findByTestId("backup-all-outcome");
    expect(outcome.textContent).toContain("2 backups made");
    expect(outcome.textContent).toContain("1 replica");
    expect(outcome.textContent).toContain("2 skipped");
  });

  it("sends Cancel for its own ticket and says the run was cancelled in the engine's words", async () => {
    let reject: (v: unknown) => void = () => {};
    const e = engine({
      plan_backup_all: () => dryRun(1),
      backup_all: () => new Promise((_, r) => (reject = r)),
      cancel_operation: () => true,
    });
    wrap(<BackupAllDialog account="z1" frameAccount="acme-pd" onClose={() => {}} />);
    fireEvent.click(await screen.findByRole("checkbox", { name: "Back up 1 volume now" }));
    fireEvent.click(screen.getByRole("button", { name: "Back up all" }));
    fireEvent.click(await screen.findByRole("button", { name: "Cancel backup" }));
    await waitFor(() => expect(e.of("cancel_operation")).toHaveLength(1));
    expect(e.of("cancel_operation")[0]!.args.ticket).toBe(e.of("backup_all")[0]!.args.ticket);
    await act(async () => reject({ code: "conflict", message: "cancelled" }));
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("The backup was cancelled");
    expect(alert.textContent).toContain("cancelled");
  });
});

const ACCOUNTS = [
  { id: "p1", name: "lab-ahv-primary", kind: "ahv", endpoint: "https://127.0.77.1:9440", created_at: "2026-11-22T09:00:00Z" },
  { id: "s1", name: "lab-ahv-secondary", kind: "ahv", endpoint: "https://127.0.77.2:9440", created_at: "2026-11-22T09:00:00Z" },
  { id: "z1", name: "lab-azure", kind: "azure", endpoint: "https://127.0.77.10:8443", created_at: "2026-11-22T09:00:00Z" },
];

const desktop = (name: string, owner: string, action: Record<string, unknown>) => ({
  name,
  uuid: `uuid-${name}`,
  owner,
  running: false,
  container: "default-container-77107",
  session: { state: "none" },
  action,
  power: [],
});

function clonePlan(request: Record<string, unknown>, remoteSiteOk: boolean) {
  const replace = request.replace_assigned === true;
  return {
    source: { account_id: "p1", account_name: "lab-ahv-primary", frame_account: "acme-pd" },
    destination: { account_id: "s1", account_name: "lab-ahv-secondary", frame_account: "acme-pd" },
    remote_site: remoteSiteOk ? "secondary" : null,
    protection_domain: "standby-acme-pd",
    name_prefix: "clone-20261122100000-",
    replace_assigned: replace,
    keep_running: request.keep_running === true,
    session_timeout_secs: 3600,
    desktops: [
      desktop("acme-pd-desk-0001", "alice@acme-pd.example", { action: "clone", new_name: "clone-20261122100000-acme-pd-desk-0001" }),
      desktop(
        "acme-pd-desk-0002",
        "bob@acme-pd.example",
        replace
          ? { action: "replace", new_name: "clone-20261122100000-acme-pd-desk-0002", replaces: "acme-dr-desk-0007", replaces_uuid: "u7" }
          : { action: "skip", reason: "bob@acme-pd.example already has acme-dr-desk-0007 in the destination" },
      ),
    ],
    steps: [],
    checks: [
      { name: "Destination account", status: "ok", message: "lab-ahv-secondary is an AHV account" },
      remoteSiteOk
        ? { name: "Remote site", status: "ok", message: "secondary: RELATIONSHIP_ESTABLISHED" }
        : {
            name: "Remote site",
            status: "blocked",
            message: "no remote site on lab-ahv-primary points at lab-ahv-secondary: enable DR between them first",
          },
    ],
    can_run: remoteSiteOk,
  };
}

describe("Clone volumes", () => {
  it("keeps Clone disabled while a prerequisite is blocked, and shows each check", async () => {
    const e = engine({
      list_cloud_accounts: () => ACCOUNTS,
      plan_clone: (a) => clonePlan(a.request as Record<string, unknown>, false),
    });
    wrap(<CloneDialog account="p1" frameAccount="acme-pd" onClose={() => {}} />);
    const checks = await screen.findByTestId("clone-checks", {}, { timeout: 3000 });
    expect(checks.textContent).toContain("enable DR between them first");
    expect(within(checks).getAllByLabelText("blocked")).toHaveLength(1);
    expect((screen.getByRole("button", { name: "Clone" }) as HTMLButtonElement).disabled).toBe(true);
    // The destination offered is the other AHV account, never the source or an Azure one.
    expect(e.of("plan_clone")[0]!.args.request).toMatchObject({
      source_account: "p1",
      destination_account: "s1",
      frame_account: "acme-pd",
      destination_frame_account: "acme-pd",
    });
  });

  it("sends Replace assigned volumes off by default, then as chosen, and clones when the plan can run", async () => {
    let resolve: (v: unknown) => void = () => {};
    const e = engine({
      list_cloud_accounts: () => ACCOUNTS,
      plan_clone: (a) => clonePlan(a.request as Record<string, unknown>, true),
      clone_volumes: () => new Promise((r) => (resolve = r)),
    });
    wrap(<CloneDialog account="p1" frameAccount="acme-pd" onClose={() => {}} />);
    const replace = screen.getByRole("switch", { name: /Replace assigned volumes/ }) as HTMLInputElement;
    expect(replace.checked).toBe(false);
    await screen.findByTestId("clone-checks", {}, { timeout: 3000 });
    expect(e.of("plan_clone")[0]!.args.request).toMatchObject({ replace_assigned: false, keep_running: false });
    const list = screen.getByRole("list", { name: "Desktops and what the clone does with each" });
    expect(list.textContent).toContain("already has acme-dr-desk-0007");
    const clone = screen.getByRole("button", { name: "Clone" }) as HTMLButtonElement;
    expect(clone.disabled).toBe(false);

    fireEvent.click(replace);
    // A changed field makes the plan on screen stale: no clone until the engine answers again.
    expect(clone.disabled).toBe(true);
    await waitFor(() => expect(e.of("plan_clone")).toHaveLength(2), { timeout: 3000 });
    expect(e.of("plan_clone")[1]!.args.request).toMatchObject({ replace_assigned: true });
    await waitFor(() => expect(clone.disabled).toBe(false));
    expect(list.textContent).toContain("beside acme-dr-desk-0007");

    fireEvent.click(clone);
    await waitFor(() => expect(e.of("clone_volumes")).toHaveLength(1));
    expect(e.of("clone_volumes")[0]!.args.request).toMatchObject({ replace_assigned: true, destination_account: "s1" });
    expect(screen.getByRole("progressbar", { name: "Clone" })).toBeTruthy();
    await act(async () =>
      resolve({
        job_id: "j-clone",
        plan: clonePlan({ replace_assigned: true }, true),
        cloned: [
          {
            source: "acme-pd-desk-0002",
            owner: "bob@acme-pd.example",
            new_name: "clone-20261122100000-acme-pd-desk-0002",
            new_uuid: "n2",
            replaced: "acme-dr-desk-0007",
            powered_on: false,
          },
        ],
        source_powered_on: [],
        snapshot: "standby-acme-pd:42",
        replica: "43",
      }),
    );
    const outcome = await screen.findByTestId("clone-outcome");
    expect(outcome.textContent).toContain("1 desktop cloned");
    expect(screen.getByText("clone-20261122100000-acme-pd-desk-0002")).toBeTruthy();
    expect(screen.getByText("acme-dr-desk-0007 powered off and kept")).toBeTruthy();
    expect(screen.getByText("Powered off")).toBeTruthy();
  });
});

const job = (id: string, state: string, progress: number, message: string) => ({
  id,
  kind: "backup_all",
  account_id: "z1",
  state,
  progress,
  message,
  error: null,
  created_at: "2026-11-22T10:00:00Z",
  parent_id: null,
});

describe("Jobs panel", () => {
  it("moves a running job's bar on a progress event and shows its end after a notification", async () => {
    let finished = false;
    const e = engine({
      list_cloud_accounts: () => ACCOUNTS,
      recent_jobs: () =>
        finished ? [job("j1", "succeeded", 100, "2 backed up, 1 skipped")] : [job("j1", "running", 10, "planning")],
    });
    wrap(<JobsPanel />);
    const row = await screen.findByText("Backup of all volumes");
    const item = row.closest("li")!;
    const bar = within(item).getByTestId("job-progress");
    expect(bar.getAttribute("data-value")).toBe("10");
    await waitFor(() => expect(item.textContent).toContain("lab-azure"));
    expect(e.of("recent_jobs")[0]!.args.limit).toBe(20);

    await act(async () => {
      await emit("job-progress-event", { ticket: null, progress: { job_id: "j1", percent: 64, step: "copying acme-pd-desk-0002", bytes: null } });
    });
    await waitFor(() => expect(within(item).getByTestId("job-progress").getAttribute("data-value")).toBe("64"));
    expect(item.textContent).toContain("copying acme-pd-desk-0002");
    // Another job's progress does not move this bar.
    await act(async () => {
      await emit("job-progress-event", { ticket: "t", progress: { job_id: "j1-child", percent: 99, step: "x", bytes: null } });
    });
    expect(within(item).getByTestId("job-progress").getAttribute("data-value")).toBe("64");

    finished = true;
    await act(async () => {
      await emit("notification-added", { id: 9, level: "success", title: "Backup done", body: "", at: "2026-11-22T10:05:00Z", read: false, account_id: "z1", account_name: "lab-azure", job_id: "j1" });
    });
    await waitFor(() => expect(screen.getByTestId("job-state").textContent).toBe("Succeeded"));
    expect(screen.getByTestId("job-progress").getAttribute("data-value")).toBe("100");
    expect(screen.getByTestId("jobs-running-count").textContent).toBe("None running");
  });
});
