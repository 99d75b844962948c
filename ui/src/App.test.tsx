import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { afterEach, describe, expect, it } from "vitest";

import { App } from "./App";

const INFO = { version: "0.1.0", data_dir: "/tmp/standby-test", log_dir: "/tmp/standby-test/logs", lab: null };

function mockCommands(accounts: unknown, info: unknown = INFO) {
  mockIPC((cmd) => {
    switch (cmd) {
      case "app_info":
        return info;
      case "list_cloud_accounts":
        if (accounts instanceof Error) throw { code: "storage", message: accounts.message };
        return accounts;
      // The notification center, empty: its own tests are in Notifications.test.tsx.
      case "unread_notification_count":
        return 0;
      case "list_notifications":
        return [];
      default:
        throw new Error(`unexpected command ${cmd}`);
    }
  }, { shouldMockEvents: true });
}

afterEach(() => {
  cleanup();
  clearMocks();
});

describe("the shell", () => {
  it("opens on the dashboard with the empty state and the real data folder", async () => {
    mockCommands([]);
    render(<App />);
    expect(await screen.findByRole("heading", { level: 1, name: "Dashboard" })).toBeTruthy();
    expect(await screen.findByText("No cloud account yet")).toBeTruthy();
    expect((await screen.findByTestId("data-dir")).textContent).toBe("/tmp/standby-test");
  });

  it("navigates to every page", async () => {
    mockCommands([]);
    render(<App />);
    const nav = await screen.findByRole("navigation", { name: "Main" });
    for (const name of ["Disaster recovery", "Volumes", "Notifications", "Cloud accounts", "Dashboard"]) {
      fireEvent.click(nav.querySelector(`[data-nav="${slug(name)}"]`)!);
      expect(await screen.findByRole("heading", { level: 1, name })).toBeTruthy();
    }
  });

  it("lists cloud accounts from the engine", async () => {
    mockCommands([
      { id: "1", name: "ahv-primary", kind: "ahv", endpoint: "https://10.0.0.1:9440", created_at: "2026-11-22T09:00:00Z" },
    ]);
    render(<App />);
    fireEvent.click(document.querySelector('[data-nav="cloud-accounts"]')!);
    expect(await screen.findByText("ahv-primary")).toBeTruthy();
    expect(screen.getByText("Nutanix AHV")).toBeTruthy();
    expect(screen.queryByText("No cloud account yet")).toBeNull();
  });

  it("shows the engine's error where it happened, with its code", async () => {
    mockCommands(new Error("cannot open the catalog /x: disk I/O error"));
    render(<App />);
    const alert = await screen.findByRole("alert");
    await waitFor(() => expect(alert.textContent).toContain("disk I/O error"));
    expect(alert.textContent).toContain("storage");
  });
});

describe("the lab", () => {
  it("is marked as a simulation when it runs", async () => {
    mockCommands([], { ...INFO, lab: { control_url: "http://127.0.0.1:7780/", error: null } });
    render(<App />);
    expect((await screen.findByTestId("lab-badge")).textContent).toBe("Lab");
  });

  it("says why when it did not start", async () => {
    const error = { code: "storage", message: "the system keyring is locked: unlock it" };
    mockCommands([], { ...INFO, lab: { control_url: null, error } });
    render(<App />);
    expect((await screen.findByTestId("lab-badge")).textContent).toBe("Lab failed to start");
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("The lab did not start");
    expect(alert.textContent).toContain("keyring is locked");
  });

  it("is not mentioned without --lab", async () => {
    mockCommands([]);
    render(<App />);
    await screen.findByTestId("data-dir");
    expect(screen.queryByTestId("lab-badge")).toBeNull();
  });
});

function slug(name: string) {
  return name.toLowerCase().replace(/ /g, "-");
}

describe("testing a cloud account", () => {
  it("shows every check the engine ran, failures in words to act on", async () => {
    const account = { id: "a1", name: "lab-ahv-primary", kind: "ahv", endpoint: "https://127.0.77.1:9440", created_at: "2026-11-22T09:00:00Z" };
    mockIPC((cmd, args) => {
      switch (cmd) {
        case "app_info":
          return INFO;
        case "list_cloud_accounts":
          return [account];
        case "test_cloud_account":
          expect((args as { id: string }).id).toBe("a1");
          return {
            account_id: "a1",
            ok: false,
            tested_at: "2026-11-22T09:05:00Z",
            checks: [{ name: "Sign-in", ok: false, detail: "the password was refused. Check the user name and password" }],
          };
        default:
          return cmd.includes("notification") ? (cmd.startsWith("unread") ? 0 : []) : null;
      }
    });
    render(<App />);
    fireEvent.click(document.querySelector('[data-nav="cloud-accounts"]')!);
    // The list tests each account as it shows it: the health column is the engine's answer.
    await waitFor(() =>
      expect(document.querySelector('[data-testid="health-lab-ahv-primary"]')?.textContent).toBe(
        "Needs attention: Sign-in",
      ),
    );
    fireEvent.click(await screen.findByRole("button", { name: "Test lab-ahv-primary" }));
    expect(await screen.findByText(/password was refused/)).toBeTruthy();
    expect(screen.getByText("lab-ahv-primary needs attention")).toBeTruthy();
    expect((await screen.findByRole("button", { name: "Test lab-ahv-primary" })).textContent).toContain("Test again");
  });
});

describe("the disaster recovery page", () => {
  const account = { id: "a1", name: "lab-ahv-primary", kind: "ahv", endpoint: "https://127.0.77.1:9440", created_at: "2026-11-22T09:00:00Z" };
  function mockWith(configs: unknown) {
    mockIPC((cmd) => {
      if (cmd === "app_info") return INFO;
      if (cmd === "list_cloud_accounts") return [account];
      if (cmd === "dr_configs") return configs;
      if (cmd === "unread_notification_count") return 0;
      if (cmd === "list_notifications") return [];
      throw new Error(`unexpected command ${cmd}`);
    });
  }

  it("lists where each Frame account replicates", async () => {
    mockWith([
      {
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
      },
    ]);
    render(<App />);
    fireEvent.click(document.querySelector('[data-nav="disaster-recovery"]')!);
    const table = await screen.findByTestId("dr-configs");
    expect(table.textContent).toContain("acme-pd");
    expect(table.textContent).toContain("lab-ahv-secondary (AHV cluster)");
    expect(table.textContent).toContain("standby-acme-pd");
  });

  it("says plainly when nothing replicates yet", async () => {
    mockWith([]);
    render(<App />);
    fireEvent.click(document.querySelector('[data-nav="disaster-recovery"]')!);
    expect(await screen.findByText("Disaster recovery is not enabled yet")).toBeTruthy();
  });
});

describe("the volumes tab", () => {
  const account = { id: "a1", name: "lab-ahv-primary", kind: "ahv", endpoint: "https://127.0.77.1:9440", created_at: "2026-11-22T09:00:00Z" };
  const vol = (name: string, kind: string, size: number, owner: string | null) => ({
    volume_id: name, name, kind, frame_account: "acme-pd", owner, desktop_state: null, size_bytes: size * 1024 ** 3,
    power: null, power_detail: null, location: "default-container-77107", seen_at: "2026-11-22T09:00:00Z",
    free_space: { state: "unknown", why: "no guest agent" }, last_backup: null, replica: null,
    autogrow: { enabled: false, pending: null },
    protection: kind === "template_image"
      ? { state: "not_protected", covered_by_dr: false, has_usable_backup: false, reason: "Template images are not part of a Frame account" }
      : { state: "no_dr", covered_by_dr: false, has_usable_backup: false, reason: "disaster recovery is not enabled" },
  });

  // The table itself (virtualised, 5,000 rows) is tested in pages/overview.test.tsx.
  it("reads the engine's overview after discovery, searchable and sortable, and names the engine's error", async () => {
    let discovered = 0;
    mockIPC((cmd, args) => {
      if (cmd === "app_info") return INFO;
      if (cmd === "list_cloud_accounts") return [account];
      if (cmd === "dr_configs") return [];
      if (cmd === "unread_notification_count") return 0;
      if (cmd === "volume_overview") {
        expect(args).toEqual({ account: "a1", frameAccount: discovered ? "acme-pd" : null });
        const rows = discovered ? [vol("acme-pd-desk-0002", "persistent_desktop", 96, "bob@x"), vol("acme-pd-desk-0001", "persistent_desktop", 64, "alice@x"), vol("acme-pd-template-w11", "template_image", 128, null)] : [];
        return { account_id: "a1", account_name: "lab-ahv-primary", provider: "ahv", frame_account: null, dr: null, autogrow: { enabled: false, threshold_gb: 5, increment_gb: 10, max_gb: null }, guest: { state: "unknown", why: "no guest agent" }, rows };
      }
      if (cmd === "discover_resources") {
        discovered += 1;
        expect(args).toEqual({ accountId: "a1", frameAccount: "acme-pd" });
        if (discovered === 2) throw { code: "unavailable", message: "the cluster did not answer" };
        return [];
      }
      throw new Error(`unexpected command ${cmd}`);
    });
    render(<App />);
    fireEvent.click(document.querySelector('[data-nav="volumes"]')!);
    expect(await screen.findByText("No volumes discovered yet")).toBeTruthy();
    fireEvent.change(await screen.findByTestId("frame-account"), { target: { value: " acme-pd " } });
    fireEvent.click(screen.getByRole("button", { name: "Refresh from the provider" }));
    const table = await screen.findByTestId("volumes-table");
    expect(screen.getByTestId("volume-count").textContent).toBe("3 volumes");
    expect(table.getAttribute("aria-rowcount")).toBe("4");
    // jsdom lays nothing out, so the virtualised body is empty here; the header still sorts.
    fireEvent.click(screen.getByRole("button", { name: "Sort by Size" }));
    expect(screen.getByRole("columnheader", { name: /Size/ }).getAttribute("aria-sort")).toBe("ascending");
    fireEvent.change(screen.getByLabelText("Search volumes"), { target: { value: "desk-0002" } });
    await waitFor(() => expect(screen.getByTestId("volume-count").textContent).toBe("1 of 3 volumes"));
    fireEvent.click(screen.getByRole("button", { name: "Refresh from the provider" }));
    expect((await screen.findByRole("alert")).textContent).toContain("the cluster did not answer");
  });
});
