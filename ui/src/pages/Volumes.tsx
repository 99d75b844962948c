import { Button, Card, Group, Loader, Tabs } from "@mantine/core";
import { IconArchive, IconArchiveOff, IconDatabase, IconSettings } from "@tabler/icons-react";
import { useState } from "react";

import type { CloudAccount } from "../bindings";
import { EmptyState } from "../components/EmptyState";
import { ErrorNotice } from "../components/ErrorNotice";
import { NoAccounts } from "../components/NoAccounts";
import { PageHeader } from "../components/PageHeader";
import { VolumeBrowser } from "../components/VolumeBrowser";
import type { Loaded } from "../ipc";
import { BackupSettings } from "../policies/ScheduleSettings";

export function VolumesPage(props: { accounts: Loaded<CloudAccount[]> }) {
  const [backupSettings, setBackupSettings] = useState(false);
  const body = (what: string) => {
    if (props.accounts.state === "loading") return <Loader aria-label="Loading cloud accounts" />;
    if (props.accounts.state === "failed")
      return <ErrorNotice title="Cloud accounts could not be read" error={props.accounts.error} />;
    return <NoAccounts what={what} />;
  };
  return (
    <>
      <PageHeader
        title="Volumes"
        description="Persistent desktop volumes: free space, autogrow, backups, restore and clone."
      />
      <Card withBorder padding={0}>
        <Tabs defaultValue="volumes" keepMounted={false}>
          <Tabs.List px="md" pt="xs">
            <Tabs.Tab value="volumes" data-tab="volumes" leftSection={<IconDatabase size={16} />}>
              Volumes
            </Tabs.Tab>
            <Tabs.Tab value="backups" data-tab="backups" leftSection={<IconArchive size={16} />}>
              Backups
            </Tabs.Tab>
          </Tabs.List>
          <Tabs.Panel value="volumes" p="md">
            {props.accounts.state === "ready" && props.accounts.data.length > 0 ? (
              <VolumeBrowser accounts={props.accounts.data} />
            ) : (
              body("Each user's volumes, their size, status and free space appear here.")
            )}
          </Tabs.Panel>
          <Tabs.Panel value="backups" p="md">
            {props.accounts.state === "ready" && props.accounts.data.length > 0 && (
              <Group justify="flex-end" mb="sm">
                <Button variant="default" leftSection={<IconSettings size={16} />} onClick={() => setBackupSettings(true)}>
                  Settings
                </Button>
              </Group>
            )}
            {backupSettings && props.accounts.state === "ready" && (
              <BackupSettings accounts={props.accounts.data} onClose={() => setBackupSettings(false)} />
            )}
            {props.accounts.state === "ready" && props.accounts.data.length > 0 ? (
              <EmptyState icon={<IconArchiveOff size={30} />} title="Backups are not listed here yet">
                The backups of a volume are not listed in the window yet (<code>standbyctl backup list</code> lists
                them). Scheduled and post-session backups are set under Settings.
              </EmptyState>
            ) : (
              body("Backups of a volume, manual and scheduled, with their replicas on the secondary site, appear here.")
            )}
          </Tabs.Panel>
        </Tabs>
      </Card>
    </>
  );
}
