import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { clearMocks } from "@tauri-apps/api/mocks";
import { afterEach, describe, expect, it } from "vitest";

import { MantineProvider } from "@mantine/core";

import { App } from "../App";
import type { CloudAccount } from "../bindings";
import { theme } from "../theme";
import { EnableDrWizard } from "./EnableDrWizard";
import { INFO, recordingEngine, type Handler } from "./testEngine";

const account = (id: string, name: string, kind: string) => ({
  id,
  name,
  kind,
  endpoint: kind === "ahv" ? `https://${id}:9440` : "https://management.azure.com",
  created_at: "2026-11-22T09:00:00Z",
});
const ACCOUNTS = [
  account("p", "ahv-primary", "ahv"),
  account("s", "ahv-secondary", "ahv"),
  account("z", "azure-prod", "azure"),
];
const resource = (name: string, kind: string, location: string) => ({
  provider_id: name,
  name,
  kind,
  frame_account: "acme-pd",
  owner: null,
  desktop_state: null,
  size_bytes: 64 * 1024 ** 3,
  vm_id: null,
  power: null,
  power_detail: null,
  location,
  not_protected_reason: kind === "template_image" ? "Template images are not part of a Frame account" : null,
});
const container = (name: string, managed = false, mapped: Record<string, string> = {}) => ({
  name,
  uuid: `uuid-${name}`,
  capacity_bytes: 10 * 1024 ** 4,
  free_bytes: 4 * 1024 ** 4,
  nutanix_managed: managed,
  mapped,
});
const AHV_SETTINGS: Record<string, unknown> = {
  p: { kind: "ahv", address: "127.0.77.1", port: 9440, username: "admin", trusted_sha256: "aa" },
  s: { kind: "ahv", address: "127.0.77.2", port: 9440, username: "admin", trusted_sha256: "bb" },
  z: {
    kind: "azure",
    tenant_id: "t",
    client_id: "c",
    subscription_id: "sub",
    resource_groups: ["frame-acme-pd"],
    primary_region: "westeurope",
    arm_url: "https://management.azure.com",
    authority_url: "https://login.microsoftonline.com",
    extra_ca_pem: null,
  },
};

function engine(handlers: Record<string, Handler>) {
  return recordingEngine(handlers, {
    app_info: () => INFO,
    list_cloud_accounts: () => ACCOUNTS,
    dr_configs: () => [],
    cloud_account_settings: (a) => AHV_SETTINGS[a.id as string],
    unread_notification_count: () => 0,
    list_notifications: () => [],
    // The backup policies step (../policies): nothing stored yet, the engine's next runs.
    schedule_settings: () => null,
    post_session_settings: () => ({ frame_account: null, enabled: [] }),
    preview_schedule: (a) => ({ schedule: { in_force: a.policy, since: "2026-11-22T09:00:00Z", pending: null }, next: [], next_local: ["2026-11-23 02:00 CET"] }),
    set_schedule: (a) => ({ account_id: a.account, account_name: "x", schedule: { in_force: a.policy, since: "2026-11-22T09:00:00Z", pending: null }, next: [], next_local: ["2026-11-23 02:00 CET"], runs: [] }),
    set_post_session: (a) => ({ frame_account: "acme-pd", enabled: (a.change as { enabled: string[] }).enabled }),
  });
}

afterEach(() => {
  cleanup();
  clearMocks();
});

async function openWizard() {
  render(<App />);
  fireEvent.click(document.querySelector('[data-nav="disaster-recovery"]')!);
  const toggle = await screen.findByRole("switch", { name: /Enable DR/ });
  fireEvent.click(toggle);
  return screen.findByRole("dialog");
}

const submit = (el: HTMLElement) => fireEvent.submit(el.closest("form")!);
const destination = (source: string) => screen.getByLabelText(`Destination for ${source}`) as HTMLSelectElement;

const check = (name: string, ok: boolean, detail: string) => ({ name, ok, detail });
function connection(ok: boolean) {
  return {
    sites: {
      on_primary: { cluster: "primary", site_name: "ahv-secondary", action: ok ? "updated" : "created", status: null },
      on_secondary: { cluster: "secondary", site_name: "ahv-primary", action: ok ? "updated" : "created", status: null },
    },
    test: {
      ok,
      checks: [
        check("Remote site on the primary", true, "ahv-secondary: relationship established, latency 0.42 ms."),
        check("Remote site on the secondary", true, "ahv-primary: relationship established, latency 0.42 ms."),
        check("TCP 127.0.77.2:2020 (secondary)", true, "127.0.77.2:2020 accepts connections from this computer."),
        check("TCP 127.0.77.1:2020 (primary)", true, "127.0.77.1:2020 accepts connections from this computer."),
        check("Container SelfServiceContainer mapped", true, "SelfServiceContainer is mapped to SelfServiceContainer on the secondary."),
        ok
          ? check("Container default-container mapped", true, "default-container is mapped to storage-container on the secondary.")
          : check(
              "Container default-container mapped",
              false,
              "Container default-container holds resources of the account but is not mapped on remote site ahv-secondary: add a vStore mapping.",
            ),
      ],
    },
    account_containers: ["SelfServiceContainer", "default-container"],
  };
}

describe("enabling DR on AHV", () => {
  it("walks the remote sites, the mapping and a failing Test connection to its fix, then enables", async () => {
    const tested: unknown[] = [];
    const e = engine({
      discover_resources: () => [
        resource("acme-pd-desk-0001", "persistent_desktop", "default-container"),
        resource("acme-pd-profile-alice", "enterprise_profile", "SelfServiceContainer"),
        resource("acme-pd-template", "template_image", "default-container"),
      ],
      list_dr_containers: () => ({
        primary: [container("default-container"), container("SelfServiceContainer"), container("NutanixManagementShare", true)],
        secondary: [container("storage-container"), container("SelfServiceContainer"), container("NutanixManagementShare", true)],
      }),
      test_dr_connection: (a) => {
        const req = a.request as { plan: { mappings: { source: string }[] } };
        tested.push(req);
        return connection(req.plan.mappings.some((m) => m.source === "default-container"));
      },
      enable_dr_ahv: (a) => ({
        config: {
          account_id: "p",
          account_name: "ahv-primary",
          frame_account: "acme-pd",
          enabled_at: "2026-11-22T10:00:00Z",
          target: {
            kind: "ahv",
            secondary_account_id: "s",
            secondary_account_name: "ahv-secondary",
            site_on_primary: "ahv-secondary",
            site_on_secondary: "ahv-primary",
            mappings: (a.request as { plan: { mappings: unknown[] } }).plan.mappings,
            protection_domain: "standby-acme-pd",
          },
        },
        checks: connection(true).test.checks,
        warnings: [],
        protected_resources: 2,
      }),
    });
    const dialog = await openWizard();
    await waitFor(() => expect(document.activeElement).toBe(screen.getByLabelText(/^Frame account/)));
    fireEvent.change(screen.getByLabelText(/^Frame account/), { target: { value: " acme-pd " } });
    expect((screen.getByLabelText(/Primary infrastructure/) as HTMLSelectElement).value).toBe("p");
    expect((screen.getByLabelText(/Secondary infrastructure/) as HTMLSelectElement).value).toBe("s");
    submit(screen.getByLabelText(/^Frame account/));

    // Remote sites: both addresses from the accounts, ports 2009 and 2020 prefilled.
    const secAddress = (await screen.findByLabelText("Address of the secondary")) as HTMLInputElement;
    expect(e.args("discover_resources")).toEqual({ accountId: "p", frameAccount: "acme-pd" });
    expect(screen.getByTestId("found").textContent).toContain("2 persistent resources to protect (1 template image is not backed up)");
    expect(secAddress.value).toBe("127.0.77.2");
    expect((screen.getByLabelText("Address of the primary") as HTMLInputElement).value).toBe("127.0.77.1");
    expect((screen.getByLabelText("Ports checked on the secondary") as HTMLInputElement).value).toBe("2009, 2020");
    expect((screen.getAllByLabelText("Replication port") as HTMLInputElement[]).map((i) => i.value)).toEqual(["2020", "2020"]);
    fireEvent.click(screen.getByLabelText("Limit bandwidth"));
    fireEvent.change(screen.getByLabelText("Bandwidth limit (Mbit/s)"), { target: { value: "80" } });
    fireEvent.change(screen.getByLabelText("Ports checked on the primary"), { target: { value: "2009, x" } });
    submit(secAddress);
    expect(await screen.findByText("List ports separated by commas, e.g. 2009, 2020.")).toBeTruthy();
    fireEvent.change(screen.getByLabelText("Ports checked on the primary"), { target: { value: "2009, 2020" } });
    submit(secAddress);

    // The mapping table: one row per source container; the management share is not preselected.
    const table = await screen.findByTestId("vstore-mapping");
    expect(table.querySelectorAll("tbody tr")).toHaveLength(3);
    expect(destination("SelfServiceContainer").value).toBe("SelfServiceContainer");
    expect(destination("NutanixManagementShare").value).toBe("");
    expect(destination("default-container").value).toBe("");
    expect(within(table).getByText(/Holds acme-pd's resources: choose a destination/)).toBeTruthy();
    submit(destination("default-container"));

    // Test connection fails: the unmapped container, in the engine's words, from the primary's side.
    const run = await within(dialog).findByRole("button", { name: "Test connection" });
    // A step without fields starts on its main action, not on Back: Enter runs the test.
    await waitFor(() => expect(document.activeElement).toBe(run));
    fireEvent.click(run);
    const result = await screen.findByTestId("connection-test");
    expect(result.textContent).toContain("The clusters cannot replicate yet");
    expect(result.textContent).toContain("holds resources of the account but is not mapped on remote site ahv-secondary");
    expect(result.textContent).toContain("From ahv-secondary (reverse site)");
    expect(result.textContent).toContain("Remote site ahv-primary: created");
    expect(screen.queryByRole("button", { name: "Next: backup policies" })).toBeNull();

    // The fix: map the container, test again.
    fireEvent.click(screen.getByRole("button", { name: "Back to vStore mapping" }));
    fireEvent.change(destination("default-container"), { target: { value: "storage-container" } });
    fireEvent.change(destination("SelfServiceContainer"), { target: { value: "storage-container" } });
    submit(destination("default-container"));
    expect(await screen.findByText(/settings changed since this test/)).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Test again" }));
    expect(await screen.findByText("The clusters can replicate")).toBeTruthy();
    expect(tested).toHaveLength(2);
    expect(tested[1]).toEqual({
      primary: "p",
      secondary: "s",
      frame_account: "acme-pd",
      plan: {
        primary: { site_name: "ahv-primary", address: "127.0.77.1", port: 2020 },
        secondary: { site_name: "ahv-secondary", address: "127.0.77.2", port: 2020 },
        // Two sources share one destination; the management share is not replicated.
        mappings: [
          { source: "default-container", destination: "storage-container" },
          { source: "SelfServiceContainer", destination: "storage-container" },
        ],
        reverse_mappings: [],
        bandwidth_limit_bytes_per_sec: 10_000_000,
        compression: true,
      },
      primary_ports: [2009, 2020],
      secondary_ports: [2009, 2020],
    });

    fireEvent.click(screen.getByRole("button", { name: "Next: backup policies" }));
    fireEvent.click(await screen.findByRole("button", { name: "Next: summary" }));
    const summary = await screen.findByTestId("summary");
    expect(summary.textContent).toContain("ahv-secondary → 127.0.77.2:2020");
    expect(summary.textContent).toContain("limited to 80 Mbit/s");
    expect(summary.textContent).toContain("standby-acme-pd");
    // The reverse mapping, as the engine derives it: the first source of a shared destination.
    expect(summary.textContent).toContain("storage-container → default-container");
    expect(e.of("enable_dr_ahv")).toHaveLength(0);
    fireEvent.click(screen.getByRole("button", { name: "Enable" }));
    expect((await screen.findByTestId("enabled")).textContent).toContain("Disaster recovery is enabled for acme-pd");
    expect(e.args("enable_dr_ahv").request).toEqual(tested[1]);
    // The page reads its list again.
    await waitFor(() => expect(e.of("dr_configs").length).toBeGreaterThanOrEqual(2));
  });

  it("says next to the field when the Frame account has nothing on the primary", async () => {
    const e = engine({ discover_resources: () => [resource("acme-pd-template", "template_image", "default-container")] });
    await openWizard();
    fireEvent.change(screen.getByLabelText(/^Frame account/), { target: { value: "acme" } });
    submit(screen.getByLabelText(/^Frame account/));
    expect(await screen.findByText(/No persistent resource of Frame account acme was found on ahv-primary/)).toBeTruthy();
    expect(screen.getByLabelText(/^Frame account/).getAttribute("aria-invalid")).toBe("true");
    expect(e.of("list_dr_containers")).toHaveLength(0);
  });

  it("shows the engine's refusal of Enable where it happened", async () => {
    engine({
      discover_resources: () => [resource("acme-pd-desk-0001", "persistent_desktop", "default-container")],
      list_dr_containers: () => ({ primary: [container("default-container")], secondary: [container("default-container")] }),
      test_dr_connection: () => connection(true),
      enable_dr_ahv: () => {
        throw { code: "unavailable", message: "the clusters cannot replicate yet: Remote site on the primary: unreachable" };
      },
    });
    await openWizard();
    fireEvent.change(screen.getByLabelText(/^Frame account/), { target: { value: "acme-pd" } });
    submit(screen.getByLabelText(/^Frame account/));
    submit(await screen.findByLabelText("Address of the secondary"));
    submit(await screen.findByLabelText("Destination for default-container"));
    fireEvent.click(await screen.findByRole("button", { name: "Test connection" }));
    fireEvent.click(await screen.findByRole("button", { name: "Next: backup policies" }));
    fireEvent.click(await screen.findByRole("button", { name: "Next: summary" }));
    fireEvent.click(await screen.findByRole("button", { name: "Enable" }));
    const alert = await screen.findByTestId("wizard-error");
    expect(alert.textContent).toContain("Disaster recovery was not enabled for acme-pd");
    expect(alert.textContent).toContain("Remote site on the primary: unreachable");
  });
});

describe("enabling DR on Azure", () => {
  it("refuses the primary's own region, shows the engine's refusal and the quota headroom, then enables", async () => {
    const e = engine({
      discover_resources: () => [resource("acme-pd-desk-0001", "persistent_desktop", "westeurope")],
      check_dr_region: (a) =>
        a.secondaryRegion === "southcentralus"
          ? {
              primary: "westeurope",
              secondary: "southcentralus",
              problems: ["Region southcentralus is not available to subscription sub: LocationNotAvailableForResourceType: not here"],
              quota: { region: "southcentralus", lines: [] },
            }
          : {
              primary: "westeurope",
              secondary: "northeurope",
              problems: [],
              quota: {
                region: "northeurope",
                lines: [
                  { name: "snapshots", code: "StandardSnapshotCount", current: 100, limit: 120, needed: 35, ok: false, message: "northeurope: 100 of 120 snapshots in use; this account needs 35 more" },
                  { name: "Premium SSD managed disks", code: "PremiumDiskCount", current: 3, limit: 1000, needed: 5, ok: true, message: null },
                ],
              },
            },
      enable_dr_azure: (a) => ({
        config: {
          account_id: "z",
          account_name: "azure-prod",
          frame_account: "acme-pd",
          enabled_at: "2026-11-22T10:00:00Z",
          target: { kind: "azure", secondary_region: "northeurope", secondary_resource_group: (a.request as { secondary_resource_group: string }).secondary_resource_group },
        },
        checks: [{ name: "Secondary region", ok: true, detail: "northeurope is another region of subscription sub" }],
        warnings: ["northeurope: 100 of 120 snapshots in use; this account needs 35 more"],
        protected_resources: 5,
      }),
    });
    const dialog = await openWizard();
    fireEvent.change(screen.getByLabelText(/^Frame account/), { target: { value: "acme-pd" } });
    fireEvent.change(screen.getByLabelText(/Primary infrastructure/), { target: { value: "z" } });
    expect(screen.queryByLabelText(/Secondary infrastructure/)).toBeNull();
    submit(screen.getByLabelText(/^Frame account/));

    const regionField = await screen.findByRole("textbox", { name: /Secondary region/ });
    fireEvent.change(regionField, { target: { value: "West Europe" } });
    fireEvent.change(screen.getByLabelText(/Resource group for replicas/), { target: { value: "frame-acme-pd-dr" } });
    submit(regionField);
    expect(await screen.findByText(/must differ from the primary region \(westeurope\)/)).toBeTruthy();
    expect(regionField.getAttribute("aria-invalid")).toBe("true");
    expect(e.of("check_dr_region")).toHaveLength(0);

    // A region the subscription does not have: the engine says so, and the wizard does not go on.
    fireEvent.change(regionField, { target: { value: "southcentralus" } });
    fireEvent.click(screen.getByRole("button", { name: "Check region" }));
    const problems = await within(dialog).findByRole("alert");
    expect(problems.textContent).toContain("southcentralus cannot be the secondary region");
    expect(problems.textContent).toContain("LocationNotAvailableForResourceType");
    expect(screen.getByRole("button", { name: "Check region" })).toBeTruthy();

    fireEvent.change(regionField, { target: { value: "northeurope" } });
    fireEvent.click(screen.getByRole("button", { name: "Check region" }));
    const quota = await screen.findByTestId("quota");
    expect(e.args("check_dr_region", 1)).toEqual({ account: "z", frameAccount: "acme-pd", secondaryRegion: "northeurope", replicasKept: 7 });
    const snapshots = quota.querySelector('[data-quota="StandardSnapshotCount"]')!;
    expect(Array.from(snapshots.querySelectorAll("td")).map((td) => td.textContent)).toEqual(["snapshots", "100", "120", "20", "35", "short"]);
    expect(screen.getByText("Quota would run short")).toBeTruthy();
    expect(screen.getByText("northeurope: 100 of 120 snapshots in use; this account needs 35 more")).toBeTruthy();

    fireEvent.click(screen.getByRole("button", { name: "Next: backup policies" }));
    // Backup policies: a schedule every 2 days at 03:30 in New York, post-session for desktops
    // and the sandbox; the next runs are the engine's.
    await screen.findByRole("form", { name: "Backup policies" });
    fireEvent.change(screen.getByLabelText(/^First backup time/), { target: { value: "03:30" } });
    fireEvent.change(screen.getByLabelText(/^First backup date/), { target: { value: "2026-12-01" } });
    fireEvent.change(screen.getByLabelText(/^Interval in days/), { target: { value: "0" } });
    fireEvent.click(screen.getByRole("button", { name: "Next: summary" }));
    expect(await screen.findByText(/Enter a whole number of days from 1/)).toBeTruthy();
    fireEvent.change(screen.getByLabelText(/^Interval in days/), { target: { value: "2" } });
    fireEvent.click(screen.getByRole("checkbox", { name: /Persistent desktops/ }));
    fireEvent.click(screen.getByRole("checkbox", { name: /Sandbox/ }));
    expect((await screen.findByTestId("next-runs")).textContent).toContain("2026-11-23 02:00 CET");
    fireEvent.click(screen.getByRole("button", { name: "Next: summary" }));
    const summary = await screen.findByTestId("summary");
    expect(summary.textContent).toContain("frame-acme-pd-dr");
    expect(summary.textContent).toMatch(/Every 2 days at 03:30 \(.+\) from 2026-12-01, 7 kept per volume/);
    expect(summary.textContent).toContain("After each session: sandbox, persistent desktops");
    // Nothing is saved before Enable.
    expect(e.of("set_schedule")).toHaveLength(0);
    expect(e.of("set_post_session")).toHaveLength(0);
    fireEvent.click(screen.getByRole("button", { name: "Enable" }));
    expect((await screen.findByTestId("enabled")).textContent).toContain("replicate to northeurope");
    expect(e.args("enable_dr_azure").request).toEqual({
      account: "z",
      frame_account: "acme-pd",
      secondary_region: "northeurope",
      secondary_resource_group: "frame-acme-pd-dr",
      replicas_kept: 7,
    });
    expect((await screen.findByTestId("policies-saved")).textContent).toContain("next scheduled backup runs at 2026-11-23 02:00 CET");
    expect(e.args("set_schedule")).toMatchObject({
      account: "z",
      policy: { frame_account: "acme-pd", enabled: true, first_date: "2026-12-01", first_time: "03:30", every_days: 2, keep: 7 },
    });
    expect(e.args("set_post_session")).toEqual({
      account: "z",
      change: { frame_account: "acme-pd", enabled: ["sandbox", "persistent_desktop"] },
    });
  });
});

describe("enabling DR from an imported configuration", () => {
  it("starts from the file's Frame account, account and secondary region, and checks them as usual", async () => {
    engine({ discover_resources: () => [resource("acme-pd-desk-0001", "persistent_desktop", "westeurope")] });
    render(
      <MantineProvider theme={theme}>
        <EnableDrWizard
          accounts={ACCOUNTS as CloudAccount[]}
          onClose={() => {}}
          onEnabled={() => {}}
          initial={{
            accountId: "z",
            dr: { frame_account: "acme-pd", target: { kind: "azure", secondary_region: "swedencentral", secondary_resource_group: "frame-dr" } },
          }}
        />
      </MantineProvider>,
    );
    const frame = (await screen.findByLabelText(/^Frame account/)) as HTMLInputElement;
    expect(frame.value).toBe("acme-pd");
    expect((screen.getByLabelText(/Primary infrastructure/) as HTMLSelectElement).value).toBe("z");
    submit(frame);
    const region = (await screen.findByRole("textbox", { name: /Secondary region/ })) as HTMLInputElement;
    expect(region.value).toBe("swedencentral");
    expect((screen.getByLabelText(/Resource group for replicas/) as HTMLInputElement).value).toBe("frame-dr");
  });
});
