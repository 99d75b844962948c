// The Volumes table, the dashboard and the Disaster recovery page's resource list, against a
// mocked engine: what each asked of the engine, and that what the screen shows is the engine's answer.
import { MantineProvider } from "@mantine/core";
import { act, cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { clearMocks } from "@tauri-apps/api/mocks";
import type { ReactNode } from "react";
import { afterEach, describe, expect, it } from "vitest";

import type { CloudAccount } from "../bindings";
import { VolumeBrowser } from "../components/VolumeBrowser";
import { OverviewMemoryProvider } from "../overview/VolumesPanel";
import { theme } from "../theme";
import { INFO, recordingEngine } from "../wizards/testEngine";
import { DashboardPage } from "./Dashboard";
import { DisasterRecoveryPage } from "./DisasterRecovery";

const GIB = 1024 ** 3;
const ACCOUNTS: CloudAccount[] = [
  { id: "a1", name: "lab-ahv-primary", kind: "ahv", endpoint: "https://127.0.77.1:9440", created_at: "2026-11-22T09:00:00Z" },
  { id: "z1", name: "lab-azure", kind: "azure", endpoint: "https://management.azure.com", created_at: "2026-11-22T09:00:00Z" },
];
const TEMPLATE_REASON = "Template images are not part of a Frame account and are not backed up; back them up separately.";
const NO_AGENT = "no guest agent is registered for lab-ahv-primary: register one to read free space";

const DR = {
  account_id: "a1",
  account_name: "lab-ahv-primary",
  frame_account: "acme-pd",
  enabled_at: "2026-11-22T09:10:00Z",
  target: {
    kind: "ahv",
    secondary_account_id: "a2",
    secondary_account_name: "lab-ahv-secondary",
    site_on_primary: "lab-ahv-secondary",
    site_on_secondary: "lab-ahv-primary",
    mappings: [{ source: "SelfServiceContainer", destination: "SelfServiceContainer" }],
    protection_domain: "standby-acme-pd",
  },
};

/** Sizes are scattered so that sorting by size is not the order by name. */
const sizeOf = (i: number) => ((i * 7919) % 4999) + 1;
const nameOf = (i: number) => `acme-pd-desk-${String(i).padStart(5, "0")}`;

function row(i: number, over: Record<string, unknown> = {}) {
  return {
    volume_id: `vm-${i}`,
    name: nameOf(i),
    kind: "persistent_desktop",
    frame_account: "acme-pd",
    owner: `user${i}@acme.test`,
    size_bytes: sizeOf(i) * GIB,
    desktop_state: "assigned",
    power: "off",
    power_detail: null,
    location: "SelfServiceContainer",
    seen_at: "2026-11-22T09:00:00Z",
    free_space: { state: "known", free_bytes: 12 * GIB, source: "lab guest agent" },
    last_backup: { id: `b${i}`, name: `Scheduled backup ${i}`, kind: "scheduled", created_at: new Date(Date.now() - 3 * 3600_000).toISOString() },
    replica: { id: `r${i}`, state: "available", percent: 100, created_at: new Date(Date.now() - 2 * 3600_000).toISOString() },
    autogrow: { enabled: true, pending: null },
    protection: { state: "protected", covered_by_dr: true, has_usable_backup: true, reason: null },
    ...over,
  };
}

function overview(rows: unknown[], guest: unknown = { state: "read", source: "lab guest agent" }) {
  return {
    at: new Date().toISOString(),
    account_id: "a1",
    account_name: "lab-ahv-primary",
    provider: "ahv",
    frame_account: "acme-pd",
    dr: DR,
    autogrow: { enabled: true, threshold_gb: 5, increment_gb: 10, max_gb: null },
    guest,
    rows,
  };
}

const wrap = (ui: ReactNode) => render(<MantineProvider theme={theme}>{ui}</MantineProvider>);

// jsdom lays nothing out: the rows scroll with the window, whose height is jsdom's 768 px.
afterEach(() => {
  cleanup();
  clearMocks();
});

const names = () => screen.queryAllByTestId("volume-row").map((r) => r.getAttribute("data-volume"));

describe("the Volumes table", () => {
  const many = Array.from({ length: 5000 }, (_, i) => row(i));

  it("renders only a window of 5,000 rows, read once from the catalog for the DR's Frame account", async () => {
    const engine = recordingEngine({ volume_overview: () => overview(many) }, { dr_configs: () => [DR] });
    wrap(<VolumeBrowser accounts={ACCOUNTS} />);
    await screen.findAllByTestId("volume-row");
    expect(screen.getByTestId("volume-count").textContent).toBe("5,000 volumes");
    const shown = screen.getAllByTestId("volume-row").length;
    // A 768 px window of 54 px rows and 5 rows of overscan: a window, never the 5,000.
    expect(shown).toBeGreaterThan(5);
    expect(shown).toBeLessThan(40);
    expect(screen.getByTestId("volumes-table").getAttribute("aria-rowcount")).toBe("5001");
    expect(names()[0]).toBe(nameOf(0));
    expect(engine.args("volume_overview")).toEqual({ account: "a1", frameAccount: "acme-pd" });
    expect(engine.of("volume_overview")).toHaveLength(1);
    expect(engine.of("discover_resources")).toHaveLength(0);
  });

  it("shows the last rows at once when the page is visited again, while the fresh ones are read", async () => {
    let answer: (v: unknown) => void = () => {};
    let calls = 0;
    const engine = recordingEngine(
      {
        volume_overview: () => {
          calls += 1;
          return calls === 1 ? overview(many.slice(0, 50)) : new Promise((resolve) => (answer = resolve));
        },
      },
      { dr_configs: () => [DR] },
    );
    const page = (shown: boolean) => <OverviewMemoryProvider>{shown ? <VolumeBrowser accounts={ACCOUNTS} /> : <p>elsewhere</p>}</OverviewMemoryProvider>;
    const view = wrap(page(true));
    await screen.findAllByTestId("volume-row");
    view.rerender(<MantineProvider theme={theme}>{page(false)}</MantineProvider>);
    expect(screen.queryAllByTestId("volume-row")).toHaveLength(0);
    view.rerender(<MantineProvider theme={theme}>{page(true)}</MantineProvider>);
    // The second read has not answered: the remembered rows are shown, marked as being updated.
    await waitFor(() => expect(engine.of("volume_overview")).toHaveLength(2));
    expect(screen.getByTestId("volume-count").textContent).toBe("50 volumes");
    expect(screen.getByLabelText("Updating")).toBeTruthy();
    await act(async () => answer(overview(many.slice(0, 60))));
    await waitFor(() => expect(screen.getByTestId("volume-count").textContent).toBe("60 volumes"));
    expect(screen.queryByLabelText("Updating")).toBeNull();
  });

  it("narrows the rows by name as one types, without asking the engine", async () => {
    const engine = recordingEngine({ volume_overview: () => overview(many) }, { dr_configs: () => [DR] });
    wrap(<VolumeBrowser accounts={ACCOUNTS} />);
    await screen.findAllByTestId("volume-row");
    const search = screen.getByLabelText("Search volumes");
    fireEvent.change(search, { target: { value: "0" } });
    fireEvent.change(search, { target: { value: "04" } });
    fireEvent.change(search, { target: { value: "0421" } });
    const expected = many.map((r) => r.name).filter((n) => n.includes("0421"));
    await waitFor(() => expect(names()).toEqual(expected));
    expect(expected).toEqual([nameOf(421), ...Array.from({ length: 10 }, (_, k) => nameOf(4210 + k))]);
    expect(screen.getByTestId("volume-count").textContent).toBe("11 of 5,000 volumes");
    fireEvent.change(search, { target: { value: "no-such-volume" } });
    await waitFor(() => expect(names()).toEqual([]));
    expect(screen.getByText("No volume name contains “no-such-volume”.")).toBeTruthy();
    expect(engine.of("volume_overview")).toHaveLength(1);
  });

  it("sorts each column both ways", async () => {
    const rows = many.slice(0, 300);
    rows[7] = row(7, { last_backup: null, protection: { state: "no_backup", covered_by_dr: true, has_usable_backup: false, reason: "no usable backup yet" } });
    recordingEngine({ volume_overview: () => overview(rows) }, { dr_configs: () => [DR] });
    wrap(<VolumeBrowser accounts={ACCOUNTS} />);
    await screen.findAllByTestId("volume-row");
    const bySize = rows.map((r, i) => ({ n: r.name, s: sizeOf(i) })).sort((a, b) => a.s - b.s);
    fireEvent.click(screen.getByRole("button", { name: "Sort by Size" }));
    expect(names()[0]).toBe(bySize[0]!.n);
    expect(screen.getByRole("columnheader", { name: /Size/ }).getAttribute("aria-sort")).toBe("ascending");
    fireEvent.click(screen.getByRole("button", { name: "Sort by Size" }));
    expect(names()[0]).toBe(bySize[bySize.length - 1]!.n);
    expect(screen.getByRole("columnheader", { name: /Size/ }).getAttribute("aria-sort")).toBe("descending");
    // Oldest backup first: the volume that never had one leads.
    fireEvent.click(screen.getByRole("button", { name: "Sort by Last backup" }));
    expect(names()[0]).toBe(nameOf(7));
    fireEvent.click(screen.getByRole("button", { name: "Sort by Name" }));
    expect(names()[0]).toBe(nameOf(0));
    fireEvent.click(screen.getByRole("button", { name: "Sort by Name" }));
    expect(names()[0]).toBe(nameOf(299));
  });

  it("sorts names as people read numbers and ignores case", async () => {
    const rows = ["desk-10", "Desk-3", "desk-2", "desk-1b", "desk-1a"].map((name, i) => ({ ...row(i), name, owner: `u${i + 6}@acme.test` }));
    recordingEngine({ volume_overview: () => overview(rows) }, { dr_configs: () => [DR] });
    wrap(<VolumeBrowser accounts={ACCOUNTS} />);
    await screen.findAllByTestId("volume-row");
    expect(names()).toEqual(["desk-1a", "desk-1b", "desk-2", "Desk-3", "desk-10"]);
    fireEvent.click(screen.getByRole("button", { name: "Sort by Owner" }));
    // u6 .. u10 in numeric order (a plain string order would put u10 first).
    expect(names()).toEqual(["desk-10", "Desk-3", "desk-2", "desk-1b", "desk-1a"]);
  });

  it("says why free space is unknown, and shows a replica being copied", async () => {
    const rows = [
      row(1, { free_space: { state: "unknown", why: NO_AGENT } }),
      row(2, { replica: { id: "r2", state: "replicating", percent: 42.4, created_at: new Date().toISOString() } }),
      row(3, { kind: "template_image", owner: null, last_backup: null, replica: null, autogrow: { enabled: false, pending: null }, protection: { state: "not_protected", covered_by_dr: false, has_usable_backup: false, reason: TEMPLATE_REASON } }),
    ];
    recordingEngine({ volume_overview: () => overview(rows) }, { dr_configs: () => [DR] });
    wrap(<VolumeBrowser accounts={ACCOUNTS} />);
    await screen.findAllByTestId("volume-row");
    const [first, second, third] = screen.getAllByTestId("volume-row");
    expect(within(first!).getByTestId("free-space").textContent).toBe(`Unknown${NO_AGENT}`);
    expect(within(second!).getByTestId("free-space").textContent).toBe(`12 GiB free1% of ${sizeOf(2)} GiB`);
    expect(second!.textContent).toContain("Replicating 42%");
    expect(within(second!).getByRole("progressbar", { name: `Replica of ${nameOf(2)}: 42% copied` })).toBeTruthy();
    expect(first!.textContent).toContain("3 h ago");
    expect(first!.textContent).toContain("Scheduled backup 1");
    expect(within(third!).getByText("Not backed up").closest("[title]")!.getAttribute("title")).toBe(TEMPLATE_REASON);
  });

  it("says for the whole table when the account has no guest agent", async () => {
    recordingEngine(
      { volume_overview: () => overview([row(1, { free_space: { state: "unknown", why: NO_AGENT } })], { state: "unknown", why: NO_AGENT }) },
      { dr_configs: () => [DR] },
    );
    wrap(<VolumeBrowser accounts={ACCOUNTS} />);
    expect((await screen.findByTestId("guest-unknown")).textContent).toContain(NO_AGENT);
  });

  it("refreshes from the provider: discovery, then the overview again; a failed discovery is shown", async () => {
    let n = 0;
    const engine = recordingEngine(
      {
        volume_overview: () => overview(n++ === 0 ? [] : [row(1), row(2)]),
        discover_resources: () => {
          if (engine.of("discover_resources").length > 1) throw { code: "unavailable", message: "the cluster did not answer" };
          return [];
        },
      },
      { dr_configs: () => [DR] },
    );
    wrap(<VolumeBrowser accounts={ACCOUNTS} />);
    expect(await screen.findByText("No volumes discovered yet")).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Refresh from the provider" }));
    await waitFor(() => expect(names()).toEqual([nameOf(1), nameOf(2)]));
    expect(engine.args("discover_resources")).toEqual({ accountId: "a1", frameAccount: "acme-pd" });
    expect(engine.of("volume_overview")).toHaveLength(2);
    fireEvent.click(screen.getByRole("button", { name: "Refresh from the provider" }));
    expect((await screen.findByRole("alert")).textContent).toContain("the cluster did not answer");
    expect(names()).toEqual([nameOf(1), nameOf(2)]);
  });

  it("reads every Frame account of the cloud account when none is set, and the typed one on Enter", async () => {
    const engine = recordingEngine({ volume_overview: () => overview([row(1)]) }, { dr_configs: () => [] });
    wrap(<VolumeBrowser accounts={ACCOUNTS} />);
    await screen.findAllByTestId("volume-row");
    expect(engine.args("volume_overview")).toEqual({ account: "a1", frameAccount: null });
    const field = screen.getByTestId("frame-account");
    fireEvent.change(field, { target: { value: " other-pd " } });
    fireEvent.keyDown(field, { key: "Enter" });
    await waitFor(() => expect(engine.of("volume_overview")).toHaveLength(2));
    expect(engine.args("volume_overview", 1)).toEqual({ account: "a1", frameAccount: "other-pd" });
  });
});

const frame = {
  frame_account: "acme-pd",
  dr: DR,
  volumes: 39,
  protected: 35,
  not_protected: 4,
  by_kind: [
    { kind: "sandbox", total: 1, protected: 1, not_protected: 0, no_backup: 0, no_dr: 0 },
    { kind: "persistent_desktop", total: 37, protected: 34, not_protected: 3, no_backup: 3, no_dr: 0 },
    { kind: "template_image", total: 1, protected: 0, not_protected: 1, no_backup: 0, no_dr: 0 },
  ],
  newest_backup: { at: "2026-11-22T09:00:00Z", age_secs: 3 * 3600 },
  newest_replica: { at: "2026-11-22T08:00:00Z", age_secs: 4 * 3600 + 300 },
  worst_volume: { volume_id: "vm-9", name: "acme-pd-desk-00009", kind: "persistent_desktop", last_backup: { at: "2026-11-20T12:00:00Z", age_secs: 2 * 86400 + 3600 } },
  without_backup: 3,
  without_backup_names: ["acme-pd-desk-00031", "acme-pd-desk-00032", "acme-pd-desk-00033"],
  replication: { lag_secs: 1500, oldest_waiting_at: "2026-11-22T11:35:00Z", in_progress: 2, failed_recently: 1 },
};

const DASHBOARD = {
  at: "2026-11-22T12:00:00Z",
  recent_since: "2026-11-15T12:00:00Z",
  accounts: [
    {
      account_id: "a1",
      account_name: "lab-ahv-primary",
      provider: "ahv",
      next_run: { at: "2026-11-23T01:00:00Z", local: "2026-11-23 02:00 CET", in_secs: 13 * 3600, frame_account: "acme-pd" },
      no_next_run: null,
      failed_jobs: {
        count: 2,
        latest: [
          { id: "j2", kind: "backup_volume", parent_id: "j1", error: "Prism answered 500 while taking the snapshot", created_at: "2026-11-22T10:00:00Z", failed_at: "2026-11-22T10:01:00Z" },
        ],
      },
      skipped: {
        count: 1,
        latest: [{ job_id: "j1", account_id: "a1", volume_id: "vm-4", volume_name: "acme-pd-desk-00004", reason: "in_session", message: "alice is in session", at: "2026-11-22T10:00:00Z" }],
      },
      frame_accounts: [frame],
    },
    {
      account_id: "z1",
      account_name: "lab-azure",
      provider: "azure",
      next_run: null,
      no_next_run: "no backup schedule is set for this account",
      failed_jobs: { count: 0, latest: [] },
      skipped: { count: 0, latest: [] },
      frame_accounts: [
        {
          ...frame,
          frame_account: "acme-az",
          dr: { ...DR, account_id: "z1", account_name: "lab-azure", frame_account: "acme-az", target: { kind: "azure", secondary_region: "northeurope", secondary_resource_group: "standby-replicas" } },
          volumes: 10,
          protected: 10,
          not_protected: 0,
          by_kind: [{ kind: "persistent_desktop", total: 10, protected: 10, not_protected: 0, no_backup: 0, no_dr: 0 }],
          worst_volume: null,
          without_backup: 0,
          without_backup_names: [],
          replication: { lag_secs: null, oldest_waiting_at: null, in_progress: 0, failed_recently: 0 },
        },
      ],
    },
  ],
};

describe("the dashboard", () => {
  it("shows the engine's figures, then each account's headroom, with its error in place", async () => {
    const engine = recordingEngine(
      {
        dashboard: () => DASHBOARD,
        secondary_headroom: (a) => {
          if (a.account === "a1") throw { code: "unavailable", message: "lab-ahv-secondary did not answer" };
          return {
            kind: "azure",
            region: "northeurope",
            problems: [],
            replicas_assumed: 7,
            lines: [{ name: "Disks", code: "disks", current: 40, limit: 100, headroom: 60, needed: 20, ok: true, message: null }],
          };
        },
      },
      {},
    );
    wrap(<DashboardPage accounts={{ state: "ready", data: ACCOUNTS }} info={{ state: "ready", data: INFO }} />);
    const ahv = await screen.findByTestId("dash-account-lab-ahv-primary");
    expect(screen.getByTestId("account-count").textContent).toBe("2");
    // 35 + 10 protected of 38 + 10 protectable (the template image is not).
    expect(screen.getByTestId("protected-total").textContent).toBe("45 of 48");
    expect(screen.getByTestId("failed-total").textContent).toBe("2");
    expect(screen.getByTestId("skipped-total").textContent).toBe("1");
    const f = within(within(ahv).getByTestId("dash-frame-acme-pd"));
    expect(f.getByTestId("protected-ratio").textContent).toBe("35/38");
    expect(f.getByTestId("newest-backup").textContent).toContain("3 h ago");
    expect(f.getByTestId("newest-replica").textContent).toContain("4 h 5 min ago");
    expect(f.getByTestId("worst-volume").textContent).toContain("2 d 1 h ago");
    expect(f.getByTestId("worst-volume").textContent).toContain("acme-pd-desk-00009");
    expect(f.getByTestId("replication").textContent).toContain("25 min");
    expect(f.getByTestId("replication").textContent).toContain("2 replicas in progress, 1 failed (7 days)");
    expect(f.getByTestId("without-backup").textContent).toContain("3 volumes without any backup");
    expect(f.getByTestId("by-kind").textContent).toContain("Template imagesnot backed up1");
    expect(within(ahv).getByTestId("next-run").textContent).toContain("2026-11-23 02:00 CET (in 13 h, acme-pd)");
    expect(within(ahv).getByTestId("failed-jobs-count").textContent).toBe("2");
    expect(within(ahv).getByTestId("failed-jobs").textContent).toContain("Prism answered 500 while taking the snapshot");
    expect(within(ahv).getByTestId("skipped").textContent).toContain("alice is in session");
    const azure = screen.getByTestId("dash-account-lab-azure");
    expect(within(azure).getByTestId("next-run").textContent).toContain("no backup schedule is set for this account");
    // The live headroom: its error stays in its account's card; the other account's table shows.
    const failed = await within(ahv).findByRole("alert");
    expect(within(ahv).getByTestId("headroom-lab-ahv-primary").contains(failed)).toBe(true);
    expect(failed.textContent).toContain("lab-ahv-secondary did not answer");
    const quota = await within(azure).findByTestId("quota-table");
    expect(quota.textContent).toContain("Disks40100602");
    expect(within(azure).queryByRole("alert")).toBeNull();
    // Asked after the dashboard, once per account with a secondary.
    expect(engine.calls.map((c) => c.cmd)).toEqual(["dashboard", "secondary_headroom", "secondary_headroom"]);
  });

  it("shows the dashboard's error where the figures would be", async () => {
    recordingEngine({ dashboard: () => Promise.reject({ code: "storage", message: "the catalog is locked" }) }, {});
    wrap(<DashboardPage accounts={{ state: "ready", data: ACCOUNTS }} info={{ state: "ready", data: INFO }} />);
    expect((await screen.findByRole("alert")).textContent).toContain("the catalog is locked");
  });
});

describe("the Disaster recovery page", () => {
  it("lists the Frame account's resources by type and says templates are not backed up", async () => {
    const rows = [
      row(1, { kind: "sandbox", owner: null }),
      row(2),
      row(3, { last_backup: null, protection: { state: "no_backup", covered_by_dr: true, has_usable_backup: false, reason: "no usable backup yet: back it up now" } }),
      row(4, { kind: "personal_drive" }),
      row(5, { name: "acme-pd-template-w11", kind: "template_image", owner: null, last_backup: null, protection: { state: "not_protected", covered_by_dr: false, has_usable_backup: false, reason: TEMPLATE_REASON } }),
    ];
    const engine = recordingEngine({ dr_configs: () => [DR], volume_overview: () => overview(rows) }, {});
    wrap(<DisasterRecoveryPage accounts={{ state: "ready", data: ACCOUNTS }} />);
    const list = await screen.findByTestId("dr-resources-acme-pd");
    await within(list).findByTestId("dr-resource-kinds");
    expect(engine.args("volume_overview")).toEqual({ account: "a1", frameAccount: "acme-pd" });
    const kind = (k: string) => list.querySelector(`[data-kind="${k}"]`)!;
    expect(within(kind("sandbox") as HTMLElement).getByRole("button").textContent).toContain("Sandbox (1)1 protected");
    expect(within(kind("persistent_desktop") as HTMLElement).getByRole("button").textContent).toContain("Persistent desktops (2)1 protected1 no backup yet");
    expect(within(kind("utility_server") as HTMLElement).getByRole("button").textContent).toContain("Utility servers (0)none");
    const templates = within(list).getByTestId("dr-templates");
    expect(templates.textContent).toContain("Template images (1): not backed up");
    expect(templates.textContent).toContain(TEMPLATE_REASON);
    expect(templates.textContent).toContain("acme-pd-template-w11");
    // Open a type: each resource with its state and the engine's reason.
    await act(async () => {
      fireEvent.click(within(kind("persistent_desktop") as HTMLElement).getByRole("button"));
    });
    expect(kind("persistent_desktop").textContent).toContain("no usable backup yet: back it up now");
  });
});
