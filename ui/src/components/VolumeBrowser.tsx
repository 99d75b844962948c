import { Button, Group, Menu, Select, Stack, TextInput, Tooltip } from "@mantine/core";
import {
  IconChevronDown,
  IconCopy,
  IconDatabaseExport,
  IconResize,
  IconRefresh,
} from "@tabler/icons-react";
import { useEffect, useState } from "react";

import { commands, type CloudAccount } from "../bindings";
import { AutogrowSettings } from "../policies/AutogrowSettings";
import { BackupAllDialog } from "../operations/BackupAllDialog";
import { CloneDialog } from "../operations/CloneDialog";
import { VolumesPanel, useVolumeOverview } from "../overview/VolumesPanel";

/** The Volumes tab: the engine's overview of a cloud account's volumes (`volume_overview`), the
 * discovery that refreshes it, and the Volume actions menu. */
export function VolumeBrowser(props: { accounts: CloudAccount[] }) {
  const [accountId, setAccountId] = useState<string | null>(props.accounts[0]?.id ?? null);
  const [frameAccount, setFrameAccount] = useState("");
  // The Frame account the table is read for: null until decided, "" for every one the account holds.
  const [committed, setCommitted] = useState<string | null>(null);
  const overview = useVolumeOverview(accountId, committed);
  const [dialog, setDialog] = useState<"autogrow" | null>(null);
  const [operation, setOperation] = useState<"backup-all" | "clone" | null>(null);
  const accountKind = props.accounts.find((a) => a.id === accountId)?.kind;

  // The Frame account DR was enabled for on this cloud account, when there is one.
  useEffect(() => {
    let live = true;
    void commands.drConfigs().then((out) => {
      if (!live) return;
      const known = out.status === "ok" ? out.data.find((c) => c.account_id === accountId) : undefined;
      if (known) {
        setFrameAccount(known.frame_account);
        setCommitted(known.frame_account);
      } else setCommitted((c) => c ?? "");
    });
    return () => {
      live = false;
    };
  }, [accountId]);

  // Discovery needs a Frame account: the one typed, else every one the table shows.
  const frames = committed ? [committed] : [...new Set((overview.data?.rows ?? []).map((r) => r.frame_account))];
  const accountName = props.accounts.find((a) => a.id === accountId)?.name ?? "";

  return (
    <Stack gap="md">
      <Group align="flex-end" gap="sm">
        <Select
          label="Cloud account"
          data={props.accounts.map((a) => ({ value: a.id, label: a.name }))}
          value={accountId}
          onChange={setAccountId}
          allowDeselect={false}
          w={240}
        />
        <TextInput
          label="Frame account"
          placeholder="All Frame accounts"
          value={frameAccount}
          onChange={(e) => setFrameAccount(e.currentTarget.value)}
          onKeyDown={(e) => e.key === "Enter" && setCommitted(frameAccount.trim())}
          onBlur={() => setCommitted(frameAccount.trim())}
          w={220}
          data-testid="frame-account"
        />
        <Tooltip label="Type the Frame account to discover" disabled={frames.length > 0 || !!frameAccount.trim()}>
          <Button
            variant="light"
            leftSection={<IconRefresh size={16} />}
            loading={overview.refreshing}
            disabled={!accountId || (frames.length === 0 && !frameAccount.trim())}
            onClick={() => {
              const typed = frameAccount.trim();
              setCommitted(typed);
              void overview.refresh(typed ? [typed] : frames);
            }}
          >
            Refresh from the provider
          </Button>
        </Tooltip>
        <Menu position="bottom-end" withinPortal>
          <Menu.Target>
            <Button variant="default" rightSection={<IconChevronDown size={14} />} ml="auto">
              Volume actions
            </Button>
          </Menu.Target>
          <Menu.Dropdown>
            <Menu.Item leftSection={<IconResize size={16} />} onClick={() => setDialog("autogrow")}>
              Autogrow settings
            </Menu.Item>
            <Menu.Item leftSection={<IconDatabaseExport size={16} />} onClick={() => setOperation("backup-all")} disabled={!accountId}>
              Backup all volumes
            </Menu.Item>
            {/* A disabled item gets no pointer events: the tooltip hangs on a wrapper. */}
            <Tooltip label="Clone is AHV to AHV: choose an AHV cloud account" disabled={accountKind === "ahv"} position="left">
              <div>
                <Menu.Item leftSection={<IconCopy size={16} />} onClick={() => setOperation("clone")} disabled={accountKind !== "ahv"}>
                  Clone volumes
                </Menu.Item>
              </div>
            </Tooltip>
          </Menu.Dropdown>
        </Menu>
      </Group>
      {dialog === "autogrow" && (
        <AutogrowSettings
          accounts={props.accounts}
          initialAccount={accountId}
          frameAccount={frameAccount.trim()}
          onClose={() => setDialog(null)}
        />
      )}
      {operation === "backup-all" && accountId && (
        <BackupAllDialog account={accountId} frameAccount={frameAccount.trim()} onClose={() => setOperation(null)} />
      )}
      {operation === "clone" && accountId && (
        <CloneDialog account={accountId} frameAccount={frameAccount.trim()} onClose={() => setOperation(null)} />
      )}
      <VolumesPanel state={overview} accountName={accountName} />
    </Stack>
  );
}
