import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { clearMocks } from "@tauri-apps/api/mocks";
import { afterEach, describe, expect, it } from "vitest";

import { App } from "../App";
import { INFO, recordingEngine, type Handler } from "./testEngine";

const SHA = "ab".repeat(16) + "cd".repeat(16);
const CERT = {
  sha256: SHA,
  subject: "CN=10.0.0.5",
  issuer: "CN=10.0.0.5",
  not_before: "2026-01-01T00:00:00Z",
  not_after: "2099-01-01T00:00:00Z",
  self_signed: true,
};
const SAVED = { id: "new-1", name: "AHV Frankfurt", kind: "ahv", endpoint: "https://10.0.0.5:9440", created_at: "2026-11-22T09:00:00Z" };

/** The engine, command by command; every call is recorded with its arguments. */
function engine(handlers: Record<string, Handler>) {
  return recordingEngine(handlers, {
    app_info: () => INFO,
    list_cloud_accounts: () => [],
    unread_notification_count: () => 0,
    list_notifications: () => [],
  });
}

afterEach(() => {
  cleanup();
  clearMocks();
});

async function openWizard() {
  render(<App />);
  fireEvent.click(document.querySelector('[data-nav="cloud-accounts"]')!);
  fireEvent.click(await screen.findByRole("button", { name: "Add cloud account" }));
  return screen.findByRole("dialog");
}

const type = (label: string | RegExp, value: string) =>
  fireEvent.change(screen.getByLabelText(label), { target: { value } });

/** Enter in a field: the step's form is submitted. */
const enter = (label: string | RegExp) => fireEvent.submit(screen.getByLabelText(label).closest("form")!);

function fillAhv(password = "secret-1") {
  type(/Account name/, "AHV Frankfurt");
  type(/Cluster address/, " https://10.0.0.5/ ");
  type(/^Password/, password);
}

describe("adding an AHV cluster", () => {
  it("shows the certificate, saves only after it is trusted, then tests the saved account", async () => {
    const e = engine({
      probe_certificate: () => CERT,
      add_ahv_account: () => SAVED,
      test_cloud_account: () => ({
        account_id: "new-1",
        ok: true,
        tested_at: "2026-11-22T09:01:00Z",
        checks: [{ name: "Sign-in", ok: true, detail: "signed in to cluster fra-01 (AOS 6.10)" }],
      }),
    });
    await openWizard();
    // The first field has the focus: a keyboard user starts typing at once.
    await waitFor(() => expect(document.activeElement).toBe(screen.getByLabelText(/Account name/)));
    fillAhv();
    enter(/^Password/);

    expect(await screen.findByTestId("fingerprint")).toBeTruthy();
    expect(e.args("probe_certificate")).toEqual({ address: "10.0.0.5", port: 9440 });
    expect(screen.getByTestId("fingerprint").textContent).toBe(
      "AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD",
    );
    expect(screen.getByTestId("certificate").textContent).toContain("CN=10.0.0.5");
    expect(screen.getByText("self-signed")).toBeTruthy();
    expect(e.of("add_ahv_account")).toHaveLength(0);

    // Trusting without ticking the box is refused, in words.
    fireEvent.click(screen.getByRole("button", { name: "Trust and save" }));
    expect(await screen.findByText(/Tick the box once you have compared the fingerprint/)).toBeTruthy();
    expect(e.of("add_ahv_account")).toHaveLength(0);

    fireEvent.click(screen.getByLabelText(/I compared this fingerprint/));
    fireEvent.click(screen.getByRole("button", { name: "Trust and save" }));
    expect(await screen.findByText("AHV Frankfurt is added and works")).toBeTruthy();
    expect(e.args("add_ahv_account")).toEqual({
      account: {
        name: "AHV Frankfurt",
        address: "10.0.0.5",
        port: 9440,
        username: "admin",
        password: "secret-1",
        trusted_sha256: SHA,
      },
    });
    expect(e.args("test_cloud_account")).toEqual({ id: "new-1" });
    expect(screen.getByText(/signed in to cluster fra-01/)).toBeTruthy();
    // The page's list is read again so that the new account shows.
    expect(e.of("list_cloud_accounts").length).toBeGreaterThanOrEqual(2);
  });

  it("says what to fix next to each field, and asks nothing of the cluster until then", async () => {
    const e = engine({});
    await openWizard();
    type(/Account name/, "");
    type(/Cluster address/, "10.0.0.5/prism");
    fireEvent.change(screen.getByLabelText(/^Port/), { target: { value: "70000" } });
    enter(/Cluster address/);
    expect(await screen.findByText(/no spaces and no path after it/)).toBeTruthy();
    expect(screen.getByText(/Give the account a name/)).toBeTruthy();
    expect(screen.getByText(/whole number from 1 to 65535/)).toBeTruthy();
    expect(screen.getByText(/Enter the Prism password/)).toBeTruthy();
    expect(screen.getByLabelText(/Cluster address/).getAttribute("aria-invalid")).toBe("true");
    expect(e.of("probe_certificate")).toHaveLength(0);
  });

  it("saves nothing when the certificate is rejected, and says so", async () => {
    const e = engine({ probe_certificate: () => CERT });
    await openWizard();
    fillAhv();
    enter(/^Password/);
    await screen.findByTestId("fingerprint");
    fireEvent.click(screen.getByRole("button", { name: "Reject" }));
    const notice = await screen.findByTestId("wizard-notice");
    expect(notice.textContent).toContain("You rejected the certificate: nothing was saved");
    // Back on the first step with what was typed.
    expect((screen.getByLabelText(/Cluster address/) as HTMLInputElement).value).toBe(" https://10.0.0.5/ ");
    expect(e.of("add_ahv_account")).toHaveLength(0);
    expect(e.of("edit_cloud_account")).toHaveLength(0);
  });

  it("shows a failed probe where it happened, with the engine's message behind Show details", async () => {
    engine({
      probe_certificate: () => {
        throw { code: "unavailable", message: "10.0.0.5:9440: connection refused (os error 111)" };
      },
    });
    await openWizard();
    fillAhv();
    enter(/^Password/);
    const alert = await screen.findByTestId("wizard-error");
    expect(alert.textContent).toContain("The certificate of 10.0.0.5:9440 could not be read");
    expect(alert.textContent).toContain("Check the address and the port");
    const details = within(alert).getByRole("button", { name: "Show details" });
    expect(details.getAttribute("aria-expanded")).toBe("false");
    fireEvent.click(details);
    expect(within(alert).getByRole("button", { name: "Hide details" }).getAttribute("aria-expanded")).toBe("true");
    expect(alert.textContent).toContain("connection refused (os error 111)");
    expect(alert.textContent).toContain("unavailable");
    // Still on the first step, nothing lost.
    expect(screen.getByLabelText(/Account name/)).toBeTruthy();
  });

  it("keeps an account whose test fails, says so, and edits it rather than adding another", async () => {
    let tests = 0;
    const e = engine({
      probe_certificate: () => CERT,
      add_ahv_account: () => SAVED,
      edit_cloud_account: () => SAVED,
      test_cloud_account: () => {
        tests += 1;
        return tests === 1
          ? {
              account_id: "new-1",
              ok: false,
              tested_at: "2026-11-22T09:01:00Z",
              checks: [{ name: "Sign-in", ok: false, detail: "the password was refused. Check the user name and password" }],
            }
          : { account_id: "new-1", ok: true, tested_at: "2026-11-22T09:02:00Z", checks: [{ name: "Sign-in", ok: true, detail: "signed in" }] };
      },
    });
    await openWizard();
    fillAhv("wrong");
    enter(/^Password/);
    await screen.findByTestId("fingerprint");
    fireEvent.click(screen.getByLabelText(/I compared this fingerprint/));
    fireEvent.click(screen.getByRole("button", { name: "Trust and save" }));

    const failed = await screen.findByTestId("test-failed");
    expect(failed.textContent).toContain("AHV Frankfurt is saved, but the test failed");
    expect(failed.textContent).toContain("The account stays in Standby");
    expect(screen.getByText(/the password was refused/)).toBeTruthy();
    expect(screen.getByRole("button", { name: "Remove account" })).toBeTruthy();

    fireEvent.click(screen.getByRole("button", { name: "Edit details" }));
    type(/^Password/, "right");
    enter(/^Password/);
    await screen.findByTestId("fingerprint");
    fireEvent.click(screen.getByLabelText(/I compared this fingerprint/));
    fireEvent.click(screen.getByRole("button", { name: "Trust and save" }));
    expect(await screen.findByText("AHV Frankfurt is added and works")).toBeTruthy();
    expect(e.of("add_ahv_account")).toHaveLength(1);
    expect(e.args("edit_cloud_account")).toMatchObject({
      id: "new-1",
      changes: { password: "right", trusted_sha256: SHA, address: "10.0.0.5", port: 9440 },
    });
  });

  it("removes a failing account when asked twice", async () => {
    const e = engine({
      probe_certificate: () => CERT,
      add_ahv_account: () => SAVED,
      remove_cloud_account: () => SAVED,
      test_cloud_account: () => {
        throw { code: "unavailable", message: "10.0.0.5:9440 did not answer within 30 s" };
      },
    });
    await openWizard();
    fillAhv();
    enter(/^Password/);
    await screen.findByTestId("fingerprint");
    fireEvent.click(screen.getByLabelText(/I compared this fingerprint/));
    fireEvent.click(screen.getByRole("button", { name: "Trust and save" }));
    expect(await screen.findByText("AHV Frankfurt is saved, but it could not be tested")).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Remove account" }));
    expect(screen.getByText(/deletes it from Standby and its secret from the system keyring/)).toBeTruthy();
    expect(e.of("remove_cloud_account")).toHaveLength(0);
    fireEvent.click(screen.getByRole("button", { name: "Remove AHV Frankfurt" }));
    await waitFor(() => expect(screen.queryByRole("dialog")).toBeNull());
    expect(e.args("remove_cloud_account")).toEqual({ id: "new-1" });
  });
});

describe("adding an Azure subscription", () => {
  it("checks GUIDs and endpoints, opens Advanced when a mistake hides there, then adds and tests", async () => {
    const e = engine({
      add_azure_account: () => ({ ...SAVED, name: "Azure prod", kind: "azure" }),
      test_cloud_account: () => ({
        account_id: "new-1",
        ok: true,
        tested_at: "2026-11-22T09:01:00Z",
        checks: [{ name: "Token", ok: true, detail: "signed in as the app registration" }],
      }),
    });
    await openWizard();
    fireEvent.click(screen.getByRole("radio", { name: "Azure subscription" }));
    type(/Account name/, "Azure prod");
    type(/Tenant ID/, "not-a-guid");
    type(/Client \(application\) ID/, "0c1d5e7a-52a3-4b8e-8f0e-1ab000000002");
    type(/Client secret/, "s3cret");
    type(/Subscription ID/, "8f1c6d3e-2a4b-4c5d-9e6f-1ab000000003");
    type(/Resource groups/, "frame-acme-pd, frame-shared");
    type(/^Region/, "westeurope");
    expect(screen.getByRole("button", { name: "Advanced" }).getAttribute("aria-expanded")).toBe("false");
    fireEvent.click(screen.getByRole("button", { name: "Advanced" }));
    type(/Resource Manager endpoint/, "http://127.0.77.10:8443");
    fireEvent.click(screen.getByRole("button", { name: "Advanced" }));
    enter(/Account name/);
    expect(await screen.findByText(/The tenant ID is a GUID/)).toBeTruthy();
    expect(screen.getByText(/must start with https:\/\//)).toBeTruthy();
    expect(screen.getByRole("button", { name: "Advanced" }).getAttribute("aria-expanded")).toBe("true");
    expect(e.of("add_azure_account")).toHaveLength(0);

    type(/Tenant ID/, "5b1e3b1a-7f3c-4c55-9d7e-1ab000000001");
    type(/Resource Manager endpoint/, "https://127.0.77.10:8443");
    type(/Extra trusted CA/, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----");
    enter(/Account name/);
    expect(await screen.findByText("Azure prod is added and works")).toBeTruthy();
    expect(e.args("add_azure_account")).toEqual({
      account: {
        name: "Azure prod",
        tenant_id: "5b1e3b1a-7f3c-4c55-9d7e-1ab000000001",
        client_id: "0c1d5e7a-52a3-4b8e-8f0e-1ab000000002",
        client_secret: "s3cret",
        subscription_id: "8f1c6d3e-2a4b-4c5d-9e6f-1ab000000003",
        resource_groups: ["frame-acme-pd", "frame-shared"],
        primary_region: "westeurope",
        arm_url: "https://127.0.77.10:8443",
        authority_url: null,
        extra_ca_pem: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
      },
    });
  });

  it("shows the engine's refusal where it happened", async () => {
    engine({
      add_azure_account: () => {
        throw { code: "conflict", message: "a cloud account named \"Azure prod\" exists already: choose another name" };
      },
    });
    await openWizard();
    fireEvent.click(screen.getByRole("radio", { name: "Azure subscription" }));
    type(/Account name/, "Azure prod");
    type(/Tenant ID/, "5b1e3b1a-7f3c-4c55-9d7e-1ab000000001");
    type(/Client \(application\) ID/, "0c1d5e7a-52a3-4b8e-8f0e-1ab000000002");
    type(/Client secret/, "s3cret");
    type(/Subscription ID/, "8f1c6d3e-2a4b-4c5d-9e6f-1ab000000003");
    type(/Resource groups/, "frame-acme-pd");
    type(/^Region/, "westeurope");
    enter(/Account name/);
    const alert = await screen.findByTestId("wizard-error");
    expect(alert.textContent).toContain("The account was not added");
    expect(alert.textContent).toContain("exists already: choose another name");
  });
});
