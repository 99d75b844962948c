import { MantineProvider } from "@mantine/core";
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import type { ReactNode } from "react";
import { afterEach, describe, expect, it } from "vitest";

import type { CloudAccount } from "../bindings";
import { theme } from "../theme";
import { AutogrowSettings } from "./AutogrowSettings";
import { todayIn } from "./schedule";
import { BackupSettings } from "./ScheduleSettings";

const ACCOUNTS: CloudAccount[] = [
  { id: "a1", name: "ahv-primary", kind: "ahv", endpoint: "https://a1:9440", created_at: "2026-11-22T09:00:00Z" },
  { id: "z1", name: "azure-prod", kind: "azure", endpoint: "https://management.azure.com", created_at: "2026-11-22T09:00:00Z" },
];

type Handler = (args: Record<string, unknown>) => unknown;

/** The engine, mocked per test: each command answers from `handlers`; any other is an error. */
function engine(handlers: Record<string, Handler>) {
  const calls: { cmd: string; args: Record<string, unknown> }[] = [];
  mockIPC((cmd, args) => {
    const a = (args ?? {}) as Record<string, unknown>;
    calls.push({ cmd, args: a });
    const h = handlers[cmd];
    if (h) return h(a);
    if (cmd === "dr_configs") return [];
    throw new Error(`unexpected command ${cmd}`);
  });
  const of = (cmd: string) => calls.filter((c) => c.cmd === cmd);
  return { calls, of };
}

const wrap = (ui: ReactNode) => render(<MantineProvider theme={theme}>{ui}</MantineProvider>);

afterEach(() => {
  cleanup();
  clearMocks();
});

const policy = (over: Record<string, unknown> = {}) => ({
  frame_account: "acme-pd",
  enabled: true,
  first_date: "2026-11-01",
  first_time: "02:00",
  time_zone: "Europe/Amsterdam",
  every_days: 1,
  keep: 7,
  ...over,
});

const stored = (pending: Record<string, unknown> | null = null) => ({
  account_id: "a1",
  account_name: "ahv-primary",
  schedule: { in_force: policy(), since: "2026-11-01T00:00:00Z", pending },
  next: ["2026-11-23T01:00:00Z"],
  next_local: ["2026-11-23 02:00 CET"],
  runs: [
    {
      due_at: "2026-11-22T01:00:00Z",
      state: "partial",
      job_id: "j1",
      message: "1 desktop was in session",
      backed_up: 4,
      skipped: 1,
      failed: 0,
    },
  ],
});

const backup = (id: string, volume: string, created: string) => ({
  id,
  job_id: null,
  account_id: "a1",
  frame_account: "acme-pd",
  volume_id: volume,
  volume_name: volume,
  name: `Scheduled backup ${id}`,
  kind: "scheduled",
  site: "primary",
  location: "a1",
  provider_ref: `pd:${id}`,
  state: "available",
  percent: 100,
  replica_of: null,
  error: null,
  created_at: created,
  updated_at: created,
});

/** The engine's answer to `preview_schedule`: five runs of the policy, wall times in words. */
function previewOf(a: Record<string, unknown>, pending = false) {
  const p = a.policy as ReturnType<typeof policy>;
  return {
    schedule: {
      in_force: policy(),
      since: "2026-11-01T00:00:00Z",
      pending: pending ? { policy: p, effective_date: "2026-11-23", effective_from: "2026-11-22T23:00:00Z" } : null,
    },
    next: p.enabled ? ["2026-11-23T02:30:00Z", "2026-11-25T02:30:00Z"] : [],
    next_local: p.enabled ? [`2026-11-23 ${p.first_time} ${p.time_zone}`, `2026-11-25 ${p.first_time} ${p.time_zone}`] : [],
  };
}

describe("Backup settings: scheduled backups", () => {
  it("starts a first schedule from the machine's zone, shows the engine's next runs and saves it", async () => {
    const e = engine({
      schedule_settings: () => null,
      post_session_settings: () => ({ frame_account: null, enabled: [] }),
      dr_configs: () => [{ account_id: "a1", frame_account: "acme-pd" }],
      preview_schedule: (a) => previewOf(a),
      preview_schedule_retention: () => ({
        preview: { account_id: "a1", account_name: "ahv-primary", verdicts: [], snapshots: [], rows_only: [] },
        account_count: null,
      }),
      set_schedule: (a) => ({ ...stored(), schedule: { in_force: a.policy, since: "2026-11-22T10:00:00Z", pending: null } }),
    });
    wrap(<BackupSettings accounts={ACCOUNTS} onClose={() => {}} />);
    const form = await screen.findByRole("form", { name: "Scheduled backups" });
    expect(screen.getByTestId("schedule-in-force").textContent).toContain("no schedule yet");
    // The Frame account comes from the DR configuration; the zone from the machine.
    expect((screen.getByTestId("settings-frame-account") as HTMLInputElement).value).toBe("acme-pd");
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    expect((screen.getByTestId("time-zone") as HTMLInputElement).value).toBe(zone);

    fireEvent.change(within(form).getByLabelText(/^First backup time/), { target: { value: "03:30" } });
    fireEvent.change(within(form).getByLabelText(/^First backup date/), { target: { value: "2026-12-01" } });
    fireEvent.change(within(form).getByLabelText(/^Interval in days/), { target: { value: "2" } });
    const runs = await waitFor(() => {
      const r = screen.getByTestId("next-runs");
      expect(r.textContent).toContain(`2026-11-23 03:30 ${zone}`);
      return r;
    });
    expect(within(runs).getAllByRole("listitem")).toHaveLength(2);
    const last = e.of("preview_schedule").at(-1)!;
    expect(last.args).toEqual({
      account: "a1",
      policy: { ...policy({ first_time: "03:30", first_date: "2026-12-01", every_days: 2 }), time_zone: zone },
    });
    expect(screen.getByText(/A changed schedule takes effect the next day/)).toBeTruthy();

    fireEvent.click(screen.getByRole("button", { name: "Save schedule" }));
    expect((await screen.findByTestId("schedule-saved")).textContent).toContain("2026-11-23 02:00 CET");
    expect(e.of("set_schedule")[0]!.args.policy).toMatchObject({ first_time: "03:30", every_days: 2, keep: 7 });
  });

  it("checks the fields before asking the engine, next to each field", async () => {
    const e = engine({
      schedule_settings: () => null,
      post_session_settings: () => ({ frame_account: null, enabled: [] }),
      preview_schedule: (a) => previewOf(a),
      preview_schedule_retention: () => ({
        preview: { account_id: "a1", account_name: "ahv-primary", verdicts: [], snapshots: [], rows_only: [] },
        account_count: null,
      }),
    });
    wrap(<BackupSettings accounts={ACCOUNTS} onClose={() => {}} />);
    const form = await screen.findByRole("form", { name: "Scheduled backups" });
    fireEvent.change(within(form).getByLabelText(/^First backup time/), { target: { value: "25:00" } });
    fireEvent.change(within(form).getByLabelText(/^Number retained/), { target: { value: "" } });
    expect(screen.getByTestId("next-runs").textContent).toContain("once the schedule's fields are valid");
    fireEvent.click(screen.getByRole("button", { name: "Save schedule" }));
    // No Frame account (no DR configuration): said at the field, nothing sent.
    expect(await screen.findByText(/Enter the Frame account whose volumes these settings are for/)).toBeTruthy();
    fireEvent.change(screen.getByTestId("settings-frame-account"), { target: { value: "acme-pd" } });
    fireEvent.click(screen.getByRole("button", { name: "Save schedule" }));
    const time = within(form).getByLabelText(/^First backup time/);
    expect(time.getAttribute("aria-invalid")).toBe("true");
    expect(await screen.findByText("Enter the time of day as HH:MM (24-hour), e.g. 02:00.")).toBeTruthy();
    expect(screen.getByText(/Enter how many scheduled backups to keep per volume, from 1 to 400/)).toBeTruthy();
    expect(e.of("set_schedule")).toHaveLength(0);
  });

  it("previews what a smaller number retained deletes, and shows the next-day rule of a change", async () => {
    const e = engine({
      schedule_settings: () => stored(),
      post_session_settings: () => ({ frame_account: "acme-pd", enabled: [] }),
      preview_schedule: (a) => previewOf(a, true),
      preview_schedule_retention: (a) => ({
        preview: {
          account_id: "a1",
          account_name: "ahv-primary",
          verdicts: [
            { backup: backup("b3", "desk-0001", "2026-11-21T01:00:00Z"), delete: false, why: "within_count", detail: "among the newest 2", expires_at: null },
            { backup: backup("b1", "desk-0001", "2026-11-19T01:00:00Z"), delete: true, why: "beyond_count", detail: `older than the newest ${String(a.keep)}`, expires_at: null },
          ],
          snapshots: [],
          rows_only: [],
        },
        account_count: null,
      }),
      set_schedule: () => ({ ...stored({ policy: policy({ keep: 2 }), effective_date: "2026-11-23", effective_from: "2026-11-22T23:00:00Z" }) }),
    });
    wrap(<BackupSettings accounts={ACCOUNTS} onClose={() => {}} />);
    await screen.findByRole("form", { name: "Scheduled backups" });
    expect(screen.getByTestId("schedule-in-force").textContent).toContain(
      "Every day at 02:00 (Europe/Amsterdam) from 2026-11-01, 7 kept per volume",
    );
    expect(screen.getByTestId("retention-preview").textContent).toContain("unchanged");
    expect(screen.getByTestId("latest-runs").textContent).toContain("4 backed up, 1 skipped, 0 failed · 1 desktop was in session");

    fireEvent.change(screen.getByLabelText(/^Number retained/), { target: { value: "2" } });
    const table = await screen.findByTestId("retention-deleted");
    expect(screen.getByTestId("retention-preview").textContent).toContain("Retention preview with 2 kept: 1 backup would be deleted.");
    expect(within(table).getByText("Scheduled backup b1")).toBeTruthy();
    expect(within(table).queryByText("Scheduled backup b3")).toBeNull();
    expect(within(table).getByText("older than the newest 2")).toBeTruthy();
    expect(e.of("preview_schedule_retention").at(-1)!.args).toEqual({ account: "a1", keep: 2 });
    // Nothing saved by the preview.
    expect(e.of("set_schedule")).toHaveLength(0);
    expect((await screen.findByTestId("next-day")).textContent).toContain("takes effect on 2026-11-23");
  });

  it("says the account's own retention count governs when there is one", async () => {
    engine({
      schedule_settings: () => stored(),
      post_session_settings: () => ({ frame_account: "acme-pd", enabled: [] }),
      preview_schedule: (a) => previewOf(a, true),
      preview_schedule_retention: () => ({
        preview: { account_id: "a1", account_name: "ahv-primary", verdicts: [], snapshots: [], rows_only: [] },
        account_count: 10,
      }),
    });
    wrap(<BackupSettings accounts={ACCOUNTS} onClose={() => {}} />);
    await screen.findByRole("form", { name: "Scheduled backups" });
    fireEvent.change(screen.getByLabelText(/^Number retained/), { target: { value: "3" } });
    await waitFor(() =>
      expect(screen.getByTestId("retention-preview").textContent).toContain("its own retention count (10 per volume"),
    );
  });

  it("shows the engine's refusal where it happened, with its message behind Show details", async () => {
    engine({
      schedule_settings: () => stored(),
      post_session_settings: () => ({ frame_account: "acme-pd", enabled: [] }),
      preview_schedule: (a) => previewOf(a),
      set_schedule: () => {
        throw { code: "invalid_input", message: '"Mars/Olympus" is not an IANA time zone: give one such as Europe/Amsterdam' };
      },
    });
    wrap(<BackupSettings accounts={ACCOUNTS} onClose={() => {}} />);
    await screen.findByRole("form", { name: "Scheduled backups" });
    fireEvent.click(screen.getByRole("button", { name: "Save schedule" }));
    const alert = await screen.findByTestId("schedule-error");
    expect(alert.textContent).toContain("The schedule was not saved");
    expect(alert.textContent).toContain("is not an IANA time zone");
    fireEvent.click(within(alert).getByRole("button", { name: "Show details" }));
    expect(within(alert).getByRole("button", { name: "Hide details" }).getAttribute("aria-expanded")).toBe("true");
    expect(alert.textContent).toContain("invalid_input");
  });

  it("reads the other account's settings when the cloud account changes, and says when they cannot be read", async () => {
    engine({
      schedule_settings: (a) => {
        if (a.account === "z1") throw { code: "storage", message: "the catalog is locked" };
        return null;
      },
      post_session_settings: () => ({ frame_account: null, enabled: [] }),
      preview_schedule: (a) => previewOf(a),
    });
    wrap(<BackupSettings accounts={ACCOUNTS} onClose={() => {}} />);
    await screen.findByRole("form", { name: "Scheduled backups" });
    fireEvent.change(screen.getByLabelText("Cloud account"), { target: { value: "z1" } });
    expect((await screen.findByRole("alert")).textContent).toContain("could not be read");
    expect(screen.queryByRole("form", { name: "Scheduled backups" })).toBeNull();
  });
});

describe("today's date", () => {
  it("is YYYY-MM-DD whatever the locale's order, and falls back for an unknown zone", () => {
    expect(todayIn("Pacific/Kiritimati")).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(todayIn("Mars/Olympus")).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });
});

describe("Backup settings: post-session backups", () => {
  it("sets each resource type, says what Frame cannot, and saves every switch at once", async () => {
    const e = engine({
      schedule_settings: () => stored(),
      post_session_settings: () => ({ frame_account: "acme-pd", enabled: ["personal_drive"] }),
      preview_schedule: (a) => previewOf(a),
      set_post_session: (a) => ({ frame_account: "acme-pd", enabled: (a.change as { enabled: string[] }).enabled }),
    });
    wrap(<BackupSettings accounts={ACCOUNTS} onClose={() => {}} />);
    await screen.findByRole("form", { name: "Scheduled backups" });
    fireEvent.click(screen.getByRole("tab", { name: "Post-session backups" }));
    const form = await screen.findByRole("form", { name: "Post-session backups" });
    expect(within(form).getByText(/Frame cannot set a post-session policy for the sandbox or utility servers; Standby can/)).toBeTruthy();
    const box = (name: RegExp) => within(form).getByRole("checkbox", { name }) as HTMLInputElement;
    expect(box(/Personal drives/).checked).toBe(true);
    expect(box(/Sandbox/).checked).toBe(false);
    fireEvent.click(box(/Utility servers/));
    fireEvent.click(box(/Enterprise profiles/));
    fireEvent.click(within(form).getByRole("button", { name: "Save post-session backups" }));
    expect((await screen.findByTestId("post-session-saved")).textContent).toContain(
      "After each session: utility servers, enterprise profiles, personal drives",
    );
    expect(e.of("set_post_session")[0]!.args).toEqual({
      account: "a1",
      change: { frame_account: "acme-pd", enabled: ["utility_server", "enterprise_profile", "personal_drive"] },
    });
  });
});

describe("Autogrow settings", () => {
  const settings = (over: Record<string, unknown> = {}) => ({
    enabled: false,
    threshold_gb: 5,
    increment_gb: 10,
    max_gb: null,
    ...over,
  });

  it("shows Frame's defaults, checks each field next to it and saves the whole form", async () => {
    const e = engine({
      autogrow_settings: () => ({ settings: settings(), pending: [] }),
      set_autogrow: (a) => a.settings,
    });
    wrap(<AutogrowSettings accounts={ACCOUNTS} initialAccount="z1" onClose={() => {}} />);
    const form = await screen.findByRole("form", { name: "Autogrow settings" });
    expect(e.of("autogrow_settings")[0]!.args).toEqual({ account: "z1" });
    expect((within(form).getByLabelText(/^Threshold/) as HTMLInputElement).value).toBe("5");
    expect((within(form).getByLabelText(/^Increment/) as HTMLInputElement).value).toBe("10");
    expect(within(form).queryByLabelText(/^Maximum size/)).toBeNull();
    const save = within(form).getByRole("button", { name: "Save autogrow settings" }) as HTMLButtonElement;
    expect(save.disabled).toBe(true);

    fireEvent.click(within(form).getByRole("switch", { name: /Enable autogrow/ }));
    fireEvent.change(within(form).getByLabelText(/^Threshold/), { target: { value: "0" } });
    fireEvent.click(within(form).getByRole("checkbox", { name: /Limit maximum size/ }));
    fireEvent.click(save);
    expect(await within(form).findByText(/more than 0 GB \(Frame's default is 5\)/)).toBeTruthy();
    expect(within(form).getByText(/largest size a volume may reach/)).toBeTruthy();
    expect(within(form).getByLabelText(/^Threshold/).getAttribute("aria-invalid")).toBe("true");
    expect(e.of("set_autogrow")).toHaveLength(0);

    fireEvent.change(within(form).getByLabelText(/^Threshold/), { target: { value: "7.5" } });
    fireEvent.change(within(form).getByLabelText(/^Maximum size/), { target: { value: "200" } });
    fireEvent.click(save);
    expect((await screen.findByTestId("autogrow-saved")).textContent).toContain("Autogrow is on");
    expect(e.of("set_autogrow")[0]!.args).toEqual({
      account: "z1",
      settings: { enabled: true, threshold_gb: 7.5, increment_gb: 10, max_gb: 200 },
    });
  });

  it("removes the maximum when the limit is unticked, and shows the engine's refusal", async () => {
    let refuse = true;
    const e = engine({
      autogrow_settings: () => ({ settings: settings({ enabled: true, max_gb: 100 }), pending: [] }),
      set_autogrow: (a) => {
        if (refuse) {
          refuse = false;
          throw { code: "storage", message: "the catalog could not be written: disk full" };
        }
        return a.settings;
      },
    });
    wrap(<AutogrowSettings accounts={ACCOUNTS} onClose={() => {}} />);
    const form = await screen.findByRole("form", { name: "Autogrow settings" });
    expect((within(form).getByLabelText(/^Maximum size/) as HTMLInputElement).value).toBe("100");
    fireEvent.click(within(form).getByRole("checkbox", { name: /Limit maximum size/ }));
    fireEvent.click(within(form).getByRole("button", { name: "Save autogrow settings" }));
    expect((await screen.findByTestId("autogrow-error")).textContent).toContain("disk full");
    fireEvent.click(within(form).getByRole("button", { name: "Save autogrow settings" }));
    await screen.findByTestId("autogrow-saved");
    expect(e.of("set_autogrow").map((c) => (c.args.settings as { max_gb: unknown }).max_gb)).toEqual([null, null]);
  });

  it("checks the Frame account's volumes now and lists what the engine did", async () => {
    const e = engine({
      autogrow_settings: () => ({
        settings: settings({ enabled: true }),
        pending: [{ volume_name: "desk-0004", to_bytes: 74 * 1024 ** 3, why: "its VM is running", since: "2026-11-22T09:00:00Z" }],
      }),
      check_autogrow: () => ({
        account_id: "a1",
        account_name: "ahv-primary",
        frame_account: "acme-pd",
        settings: settings({ enabled: true }),
        guest_source: "lab guest agent",
        not_checked: null,
        volumes: [
          {
            volume_id: "v1",
            name: "desk-0002",
            kind: "persistent_desktop",
            size_bytes: 64 * 1024 ** 3,
            free_bytes: 4 * 1024 ** 3,
            decision: { decision: "grow", from_bytes: 64 * 1024 ** 3, to_bytes: 74 * 1024 ** 3 },
            action: { action: "grown", job_id: "j1" },
          },
          {
            volume_id: "v2",
            name: "desk-0003",
            kind: "persistent_desktop",
            size_bytes: 64 * 1024 ** 3,
            free_bytes: 1 * 1024 ** 3,
            decision: { decision: "grow", from_bytes: 64 * 1024 ** 3, to_bytes: 74 * 1024 ** 3 },
            action: { action: "failed", job_id: "j2", error: "Prism task failed: disk busy" },
          },
        ],
        grown: 1,
        pending: 0,
        failed: 1,
        cancelled: false,
      }),
    });
    wrap(<AutogrowSettings accounts={ACCOUNTS} frameAccount="acme-pd" onClose={() => {}} />);
    await screen.findByRole("form", { name: "Autogrow settings" });
    expect(screen.getByText(/desk-0004 grows to 74 GB once its VM is deallocated: its VM is running/)).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Check now" }));
    const out = await screen.findByTestId("autogrow-outcome");
    expect(e.of("check_autogrow")[0]!.args).toEqual({ account: "a1", frameAccount: "acme-pd" });
    expect(out.textContent).toContain("1 grown, 0 waiting, 1 failed.");
    expect(within(out).getByText("Grown to 74 GB")).toBeTruthy();
    expect(within(out).getByText("Failed: Prism task failed: disk busy")).toBeTruthy();
  });
});
