import { MantineProvider } from "@mantine/core";
import { act, cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { emit } from "@tauri-apps/api/event";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import type { ReactNode } from "react";
import { afterEach, describe, expect, it } from "vitest";

import type {
  Backup_Serialize,
  CloudAccount,
  JobProgressEvent_Serialize,
  RestoreOutcome_Serialize,
  RestorePlan_Serialize,
} from "../bindings";
import { theme } from "../theme";
import { BackupsTab } from "./BackupsTab";
import { RestoreDialog } from "./RestoreDialog";

const ACCOUNTS: CloudAccount[] = [
  { id: "z1", name: "lab-azure", kind: "azure", endpoint: "https://management.azure.com", created_at: "2026-11-22T09:00:00Z" },
];

const DISK = "/subscriptions/s/resourceGroups/frame-acme-pd/providers/Microsoft.Compute/disks/acme-pd-desk-0001-osdisk";

const VOLUMES = [
  {
    provider_id: DISK,
    name: "acme-pd-desk-0001-osdisk",
    kind: "persistent_desktop",
    frame_account: "acme-pd",
    owner: "alice.martin@acme-pd.example",
    desktop_state: "assigned",
    size_bytes: 128 * 1024 ** 3,
    vm_id: "vm1",
    power: "off",
    power_detail: null,
    location: "westeurope",
    not_protected_reason: null,
  },
  {
    provider_id: "/subscriptions/s/disks/acme-pd-template-w11",
    name: "acme-pd-template-w11",
    kind: "template_image",
    frame_account: "acme-pd",
    owner: null,
    desktop_state: null,
    size_bytes: 128 * 1024 ** 3,
    vm_id: null,
    power: null,
    power_detail: null,
    location: "westeurope",
    not_protected_reason: "Template images are not part of a Frame account and are not backed up",
  },
];

function backup(id: string, over: Partial<Backup_Serialize> = {}): Backup_Serialize {
  return {
    id,
    job_id: `job-${id}`,
    account_id: "z1",
    frame_account: "acme-pd",
    volume_id: DISK,
    volume_name: "acme-pd-desk-0001-osdisk",
    name: `Backup ${id}`,
    kind: "manual",
    site: "primary",
    location: "westeurope",
    provider_ref: `snap-${id}`,
    state: "available",
    percent: 100,
    replica_of: null,
    error: null,
    created_at: "2026-11-22T10:00:00Z",
    updated_at: "2026-11-22T10:00:00Z",
    ...over,
  };
}

function plan(over: Partial<RestorePlan_Serialize> = {}): RestorePlan_Serialize {
  return {
    backup_id: "b1",
    backup_name: "before update",
    account_id: "z1",
    account_name: "lab-azure",
    provider: "azure",
    frame_account: "acme-pd",
    volume_id: DISK,
    volume_name: "acme-pd-desk-0001-osdisk",
    kind: "persistent_desktop",
    owner: "alice.martin@acme-pd.example",
    site: "primary",
    from_location: "westeurope",
    point_in_time: "2026-11-22T10:00:00Z",
    restored_on: "westeurope",
    in_place: true,
    vm: "acme-pd-desk-0001",
    powers_off: true,
    powers_on_after: true,
    safety_snapshot: "an incremental snapshot of acme-pd-desk-0001-osdisk as it is now",
    replaces_assigned_desktop: false,
    steps: ["Take a safety snapshot", "Deallocate acme-pd-desk-0001", "Create a disk from the backup", "Swap the OS disk"],
    checks: [
      { name: "Backup", status: "ok", message: "available" },
      { name: "Desktop power", status: "warning", message: "running: it will be powered off, and on again after" },
    ],
    can_run: true,
    ...over,
  };
}

type Handler = (args: Record<string, unknown>) => unknown;

/** The engine, mocked: each command answers from `handlers`; any other fails the test. */
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
  return { calls, of: (cmd: string) => calls.filter((c) => c.cmd === cmd) };
}

/** A command's answer the test releases when it wants (a job that runs until then). */
function later<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const wrap = (ui: ReactNode) => render(
    // env="test": no transitions, so dropdowns open at once in jsdom.
    <MantineProvider theme={theme} env="test">
      {ui}
    </MantineProvider>,
  );

afterEach(() => {
  cleanup();
  clearMocks();
});

const tabHandlers = (backups: () => Backup_Serialize[], extra: Record<string, Handler> = {}) => ({
  dr_configs: () => [{ account_id: "z1", account_name: "lab-azure", frame_account: "acme-pd", target: {}, enabled_at: "" }],
  discover_resources: () => VOLUMES,
  list_backups: () => backups(),
  timeline: () => ({
    primary: backups()
      .filter((b) => b.site === "primary")
      .map((b) => ({ backup_id: b.id, expires_at: b.kind === "scheduled" ? "2026-11-29T10:00:00Z" : null })),
    replicas: [],
  }),
  ...extra,
});

/** The input of a labelled Mantine Select (its listbox carries the same label). */
function selectInput(label: string, within_: HTMLElement = document.body): HTMLInputElement {
  const input = within(within_)
    .getAllByLabelText(label)
    .find((el) => el.tagName === "INPUT");
  if (!input) throw new Error(`no input labelled ${label}`);
  return input as HTMLInputElement;
}

async function pickVolume() {
  const field = await waitFor(() => selectInput("Volume"));
  await waitFor(() => expect((field as HTMLInputElement).disabled).toBe(false));
  fireEvent.click(field);
  fireEvent.click(await screen.findByRole("option", { name: /acme-pd-desk-0001-osdisk/ }));
}

const rows = () => within(screen.getByTestId("backups-table")).getAllByRole("row").slice(1);

describe("Backups tab", () => {
  it("lists what list_backups returns for the picked volume, with the count, types, sites and expiry", async () => {
    const listed = [
      backup("r1", { name: "before update", site: "replica", location: "northeurope", state: "replicating", percent: 42, replica_of: "p1" }),
      backup("p1", { name: "before update" }),
      backup("s1", { name: "Scheduled 2026-11-21", kind: "scheduled", created_at: "2026-11-21T02:00:00Z" }),
      backup("ps1", { name: "After session", kind: "post_session", created_at: "2026-11-20T18:00:00Z" }),
      backup("sf1", { name: "Safety before restore", kind: "safety", created_at: "2026-11-19T18:00:00Z" }),
    ];
    const e = engine(tabHandlers(() => listed));
    wrap(<BackupsTab accounts={ACCOUNTS} />);
    // The Frame account comes from the account's DR configuration, and its volumes are listed.
    await waitFor(() => expect(e.of("discover_resources")).toHaveLength(1));
    expect(e.of("discover_resources")[0]!.args).toEqual({ accountId: "z1", frameAccount: "acme-pd" });
    expect((screen.getByTestId("backups-frame-account") as HTMLInputElement).value).toBe("acme-pd");
    // Template images are never offered.
    fireEvent.click(selectInput("Volume"));
    expect(screen.queryByRole("option", { name: /template/ })).toBeNull();
    await pickVolume();

    await waitFor(() => expect(rows()).toHaveLength(5));
    expect(e.of("list_backups")[0]!.args).toEqual({ account: "z1", volume: DISK });
    expect(screen.getByTestId("backup-count").textContent).toBe(
      "5 backups (4 primary, 1 replica): 2 manual, 1 scheduled, 1 post-session, 1 safety",
    );
    const text = rows().map((r) => r.textContent);
    expect(text[0]).toContain("Replica");
    expect(text[0]).toContain("Replicating 42%");
    expect(text[0]).toContain("northeurope");
    expect(text[1]).toContain("Primary");
    expect(text[1]).toContain("Available");
    expect(text[3]).toContain("Post-session");
    expect(text[4]).toContain("Safety");
    // The expiry is the timeline's (retention's) for the scheduled backup only.
    await waitFor(() => expect(rows()[2]!.textContent).toContain(new Date("2026-11-29T10:00:00Z").toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" })));
    expect(e.of("timeline")[0]!.args.query).toMatchObject({
      account_id: "z1",
      volume: DISK,
      from: "2026-11-19T18:00:00Z",
      to: "2026-11-22T10:00:00Z",
    });
  });

  it("re-reads the list when a notification about the account arrives (a replica's state)", async () => {
    let listed = [backup("r1", { site: "replica", state: "replicating", percent: 10 }), backup("p1")];
    const e = engine(tabHandlers(() => listed));
    wrap(<BackupsTab accounts={ACCOUNTS} />);
    await pickVolume();
    await waitFor(() => expect(rows()[0]!.textContent).toContain("Replicating 10%"));
    listed = [backup("r1", { site: "replica", state: "available", percent: 100 }), backup("p1")];
    const before = e.of("list_backups").length;
    await act(async () => {
      await emit("notification-added", { id: 9, at: "", level: "info", title: "other", body: "", account_id: "other", account_name: null, job_id: null, read: false });
    });
    expect(e.of("list_backups")).toHaveLength(before);
    await act(async () => {
      await emit("notification-added", { id: 10, at: "", level: "success", title: "Replica ready", body: "", account_id: "z1", account_name: "lab-azure", job_id: "job-r1", read: false });
    });
    await waitFor(() => expect(rows()[0]!.textContent).toContain("Available"));
    expect(rows()[0]!.textContent).not.toContain("Replicating");
  });

  it("creates a backup with the trimmed name, shows the job's progress, then its backups, and reloads", async () => {
    let listed: Backup_Serialize[] = [];
    const job = later<Backup_Serialize[]>();
    const e = engine(tabHandlers(() => listed, { create_backup: () => job.promise }));
    wrap(<BackupsTab accounts={ACCOUNTS} />);
    await pickVolume();
    expect(await screen.findByText("No backups of this volume yet")).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Create backup" }));
    const dialog = await screen.findByRole("dialog", { name: "Create backup" });
    // The volume picked in the tab is preselected.
    expect(selectInput("Volume", dialog).value).toContain("acme-pd-desk-0001-osdisk");
    fireEvent.change(within(dialog).getByTestId("backup-name"), { target: { value: "  before update  " } });
    fireEvent.click(within(dialog).getByRole("button", { name: "Create backup" }));

    await waitFor(() => expect(e.of("create_backup")).toHaveLength(1));
    const args = e.of("create_backup")[0]!.args as { ticket: string; request: Record<string, unknown> };
    expect(args.request).toEqual({ account: "z1", frame_account: "acme-pd", volume: DISK, name: "before update", kind: "manual" });
    expect(args.ticket).toBeTruthy();

    // The engine's progress for this ticket is shown; another ticket's is not.
    const progress = (ticket: string | null, percent: number, step: string): JobProgressEvent_Serialize => ({
      ticket,
      progress: { job_id: "j1", percent, step, bytes: null },
    });
    await act(async () => {
      await emit("job-progress-event", progress("someone-else", 90, "not this one"));
      await emit("job-progress-event", progress(args.ticket, 63, "replicating to northeurope"));
    });
    expect(await within(dialog).findByText("replicating to northeurope")).toBeTruthy();
    expect(within(dialog).getByText("63%")).toBeTruthy();
    expect(within(dialog).queryByText("not this one")).toBeNull();
    expect(within(dialog).queryByText("Backup taken")).toBeNull();

    listed = [
      backup("r1", { name: "before update", site: "replica", location: "northeurope" }),
      backup("p1", { name: "before update" }),
    ];
    const reads = e.of("list_backups").length;
    await act(async () => {
      job.resolve([listed[1]!, listed[0]!]);
    });
    expect(await within(dialog).findByText("Backup taken")).toBeTruthy();
    const created = within(within(dialog).getByTestId("created-backups")).getAllByRole("row").slice(1);
    expect(created.map((r) => r.textContent)).toEqual([
      expect.stringMatching(/^Primary.*westeurope.*Available/),
      expect.stringMatching(/^Replica.*northeurope.*Available/),
    ]);
    await waitFor(() => expect(e.of("list_backups").length).toBeGreaterThan(reads));
    await waitFor(() => expect(screen.getByTestId("backup-count").textContent).toContain("2 backups"));
  });

  it("cancels a running backup through cancel_operation with its ticket", async () => {
    const job = later<Backup_Serialize[]>();
    const e = engine(
      tabHandlers(() => [], {
        create_backup: () => job.promise,
        cancel_operation: () => {
          job.reject({ code: "unavailable", message: "the backup was cancelled; the primary backup is kept" });
          return true;
        },
      }),
    );
    wrap(<BackupsTab accounts={ACCOUNTS} />);
    await pickVolume();
    fireEvent.click(await screen.findByRole("button", { name: "Create backup" }));
    const dialog = await screen.findByRole("dialog", { name: "Create backup" });
    fireEvent.change(within(dialog).getByTestId("backup-name"), { target: { value: "x" } });
    fireEvent.click(within(dialog).getByRole("button", { name: "Create backup" }));
    fireEvent.click(await within(dialog).findByRole("button", { name: "Cancel backup" }));
    await waitFor(() => expect(e.of("cancel_operation")).toHaveLength(1));
    expect(e.of("cancel_operation")[0]!.args.ticket).toBe((e.of("create_backup")[0]!.args as { ticket: string }).ticket);
    expect(await within(dialog).findByText("the backup was cancelled; the primary backup is kept")).toBeTruthy();
    expect(within(dialog).queryByText("Backup taken")).toBeNull();
  });

  it("refuses an empty name before asking, and shows the engine's refusal of a name", async () => {
    const e = engine(
      tabHandlers(() => [], {
        create_backup: () => {
          throw { code: "invalid_input", message: "a backup name is at most 80 characters; shorten it" };
        },
      }),
    );
    wrap(<BackupsTab accounts={ACCOUNTS} />);
    await pickVolume();
    fireEvent.click(await screen.findByRole("button", { name: "Create backup" }));
    const dialog = await screen.findByRole("dialog", { name: "Create backup" });
    fireEvent.change(within(dialog).getByTestId("backup-name"), { target: { value: "   " } });
    fireEvent.click(within(dialog).getByRole("button", { name: "Create backup" }));
    expect(await within(dialog).findByText(/Enter a name for the backup/)).toBeTruthy();
    expect(e.of("create_backup")).toHaveLength(0);

    fireEvent.change(within(dialog).getByTestId("backup-name"), { target: { value: "x".repeat(90) } });
    fireEvent.click(within(dialog).getByRole("button", { name: "Create backup" }));
    const alert = await within(dialog).findByRole("alert");
    expect(alert.textContent).toContain("a backup name is at most 80 characters; shorten it");
    expect(alert.textContent).toContain("invalid_input");
    expect(within(dialog).queryByText("Backup taken")).toBeNull();
  });

  it("opens the restore dialog on the row's backup from the row menu", async () => {
    const e = engine(tabHandlers(() => [backup("r1", { site: "replica" }), backup("p1")], { plan_restore: () => plan({ backup_id: "r1" }) }));
    wrap(<BackupsTab accounts={ACCOUNTS} />);
    await pickVolume();
    await waitFor(() => expect(rows()).toHaveLength(2));
    fireEvent.click(within(rows()[0]!).getByRole("button", { name: /Actions for/ }));
    fireEvent.click(await screen.findByRole("menuitem", { name: "Restore" }));
    await screen.findByRole("dialog", { name: "Restore «before update»" });
    expect(e.of("plan_restore")[0]!.args).toEqual({ backupId: "r1" });
  });
});

describe("Restore dialog", () => {
  const restoreButton = () => screen.getByRole("button", { name: "Restore" }) as HTMLButtonElement;

  it("shows the pre-flight, and a blocked plan disables Restore and says why", async () => {
    const e = engine({
      plan_restore: () =>
        plan({
          can_run: false,
          checks: [
            { name: "Backup", status: "ok", message: "available" },
            {
              name: "User in session",
              status: "blocked",
              message: "alice.martin@acme-pd.example is in session on acme-pd-desk-0001: ask them to sign out, then try again",
            },
          ],
        }),
    });
    wrap(<RestoreDialog backupId="b1" onClose={() => {}} />);
    const dialog = await screen.findByRole("dialog", { name: "Restore «before update»" });
    const summary = within(dialog).getByTestId("restore-summary").textContent!;
    for (const part of ["acme-pd-desk-0001-osdisk", "alice.martin@acme-pd.example", "Primary backup", "westeurope", "in place", "acme-pd-desk-0001 is powered off, and powered on again after", "an incremental snapshot"])
      expect(summary).toContain(part);
    expect(within(dialog).getByText("Swap the OS disk")).toBeTruthy();
    const blocked = dialog.querySelector('[data-check="blocked"]')!;
    expect(blocked.textContent).toContain("ask them to sign out");
    expect(within(blocked as HTMLElement).getByRole("img", { name: "blocked" })).toBeTruthy();
    expect(restoreButton().disabled).toBe(true);
    expect(document.getElementById(restoreButton().getAttribute("aria-describedby")!)!.textContent).toContain(
      "Restore is blocked by one check: User in session",
    );
    fireEvent.click(restoreButton());
    expect(e.of("restore_backup")).toHaveLength(0);
  });

  it("requires typing the volume's exact name when it replaces an assigned desktop's disk", async () => {
    const e = engine({
      plan_restore: () => plan({ replaces_assigned_desktop: true }),
      restore_backup: () => later().promise,
    });
    wrap(<RestoreDialog backupId="b1" onClose={() => {}} />);
    const field = await screen.findByRole("textbox", { name: "Type acme-pd-desk-0001-osdisk to confirm" });
    expect(restoreButton().disabled).toBe(true);
    fireEvent.change(field, { target: { value: "acme-pd-desk-0001" } });
    expect(restoreButton().disabled).toBe(true);
    fireEvent.change(field, { target: { value: "ACME-PD-DESK-0001-OSDISK" } });
    expect(restoreButton().disabled).toBe(true);
    fireEvent.change(field, { target: { value: "acme-pd-desk-0001-osdisk" } });
    expect(restoreButton().disabled).toBe(false);
    fireEvent.click(restoreButton());
    await waitFor(() => expect(e.of("restore_backup")).toHaveLength(1));
    expect(e.of("restore_backup")[0]!.args).toMatchObject({ backupId: "b1", confirmVolume: "acme-pd-desk-0001-osdisk" });
  });

  it("runs a restore with progress, shows the outcome and offers the safety backup as the undo", async () => {
    const job = later<RestoreOutcome_Serialize>();
    const restored: string[] = [];
    const e = engine({
      plan_restore: (a) => (a.backupId === "safety-1" ? plan({ backup_id: "safety-1", backup_name: "Safety before restore" }) : plan()),
      restore_backup: () => job.promise,
    });
    wrap(<RestoreDialog backupId="b1" onClose={() => {}} onRestored={(o) => restored.push(o.job_id)} />);
    const dialog = await screen.findByRole("dialog", { name: "Restore «before update»" });
    fireEvent.click(restoreButton());
    await waitFor(() => expect(e.of("restore_backup")).toHaveLength(1));
    const args = e.of("restore_backup")[0]!.args as { ticket: string; confirmVolume: string | null };
    expect(args.confirmVolume).toBeNull();
    await act(async () => {
      await emit("job-progress-event", { ticket: args.ticket, progress: { job_id: "j9", percent: 40, step: "deallocating acme-pd-desk-0001", bytes: null } });
    });
    expect(await within(dialog).findByText("deallocating acme-pd-desk-0001")).toBeTruthy();
    expect(within(dialog).queryByText(/was restored/)).toBeNull();
    expect(within(dialog).getByRole("button", { name: "Cancel restore" })).toBeTruthy();

    await act(async () => {
      job.resolve({
        job_id: "j9",
        plan: plan(),
        safety_backup: backup("safety-1", { name: "Safety before restore", kind: "safety" }),
        restored_volume: `${DISK}-r0123456789ab`,
        old_volume_kept: DISK,
        powered_on: true,
      });
    });
    expect(await within(dialog).findByText("acme-pd-desk-0001-osdisk was restored")).toBeTruthy();
    expect(within(dialog).getByText("acme-pd-desk-0001-osdisk-r0123456789ab").getAttribute("title")).toBe(`${DISK}-r0123456789ab`);
    expect(within(dialog).getByText("acme-pd-desk-0001-osdisk", { selector: "code" }).getAttribute("title")).toBe(DISK);
    expect(within(dialog).getByText("acme-pd-desk-0001 was powered on again.")).toBeTruthy();
    expect(restored).toEqual(["j9"]);

    fireEvent.click(within(dialog).getByRole("button", { name: "Restore the safety backup" }));
    await screen.findByRole("dialog", { name: "Restore «Safety before restore»" });
    expect(e.of("plan_restore").map((c) => c.args.backupId)).toEqual(["b1", "safety-1"]);
  });

  it("cancels a running restore with its ticket", async () => {
    const job = later<RestoreOutcome_Serialize>();
    const e = engine({
      plan_restore: () => plan(),
      restore_backup: () => job.promise,
      cancel_operation: () => true,
    });
    wrap(<RestoreDialog backupId="b1" onClose={() => {}} />);
    await screen.findByRole("dialog", { name: "Restore «before update»" });
    fireEvent.click(restoreButton());
    fireEvent.click(await screen.findByRole("button", { name: "Cancel restore" }));
    await waitFor(() => expect(e.of("cancel_operation")).toHaveLength(1));
    expect(e.of("cancel_operation")[0]!.args.ticket).toBe((e.of("restore_backup")[0]!.args as { ticket: string }).ticket);
    expect(await screen.findByText(/Cancelling/)).toBeTruthy();
  });

  it("shows a failed restore's error in the engine's words, and never says restored", async () => {
    engine({
      plan_restore: () => plan(),
      restore_backup: () => {
        throw { code: "unavailable", message: "northeurope answered 503 ServiceUnavailable while the disk was created" };
      },
    });
    const restored: unknown[] = [];
    wrap(<RestoreDialog backupId="b1" onClose={() => {}} onRestored={(o) => restored.push(o)} />);
    const dialog = await screen.findByRole("dialog", { name: "Restore «before update»" });
    fireEvent.click(restoreButton());
    const alert = await within(dialog).findByRole("alert");
    expect(alert.textContent).toContain("The restore did not complete");
    expect(alert.textContent).toContain("northeurope answered 503 ServiceUnavailable while the disk was created");
    expect(dialog.textContent).not.toMatch(/was restored/);
    expect(within(dialog).queryByRole("button", { name: "Restore the safety backup" })).toBeNull();
    expect(restored).toEqual([]);
  });

  it("shows why the plan could not be made", async () => {
    engine({
      plan_restore: () => {
        throw { code: "not_found", message: "no backup has the id nope: list them with standbyctl backup list" };
      },
    });
    wrap(<RestoreDialog backupId="nope" onClose={() => {}} />);
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("The restore could not be checked");
    expect(alert.textContent).toContain("no backup has the id nope");
    expect(screen.queryByRole("button", { name: "Restore" })).toBeNull();
  });
});
