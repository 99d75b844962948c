import { Button, Card, Group, Loader, Tabs } from "@mantine/core";
import { IconArchive, IconDatabase, IconSettings, IconTimeline } from "@tabler/icons-react";
import { useState } from "react";

import type { CloudAccount } from "../bindings";
import { BackupsTab } from "../backups/BackupsTab";
import { ErrorNotice } from "../components/ErrorNotice";
import { NoAccounts } from "../components/NoAccounts";
import { PageHeader } from "../components/PageHeader";
import { VolumeBrowser } from "../components/VolumeBrowser";
import type { Loaded } from "../ipc";
import { BackupSettings } from "../policies/ScheduleSettings";
import { TimelineTab } from "../timeline/TimelineTab";

export function VolumesPage(props: { accounts: Loaded<CloudAccount[]> }) {
  const [backupSettings, setBackupSettings] = useState(false);
  const [tab, setTab] = useState<string | null>("volumes");
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
      {/* Not clipped: the Volumes table's header sticks under the window's header as the page
          scrolls. In a narrow window the card widens to the table's minimum width and the page
          scrolls sideways (the table has no scroll box of its own; docs/console.md). */}
      <Card withBorder padding={0} style={{ overflow: "visible", minWidth: tab === "volumes" ? "min-content" : undefined }}>
        <Tabs value={tab} onChange={setTab} keepMounted={false}>
          <Tabs.List px="md" pt="xs">
            <Tabs.Tab value="volumes" data-tab="volumes" leftSection={<IconDatabase size={16} />}>
              Volumes
            </Tabs.Tab>
            <Tabs.Tab value="backups" data-tab="backups" leftSection={<IconArchive size={16} />}>
              Backups
            </Tabs.Tab>
            <Tabs.Tab value="timeline" data-tab="timeline" leftSection={<IconTimeline size={16} />}>
              Timeline
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
              <BackupsTab accounts={props.accounts.data} />
            ) : (
              body("Backups of a volume, manual and scheduled, with their replicas on the secondary site, appear here.")
            )}
          </Tabs.Panel>
          <Tabs.Panel value="timeline" p="md">
            {props.accounts.state === "ready" && props.accounts.data.length > 0 ? (
              <TimelineTab accounts={props.accounts.data} />
            ) : (
              body("Backups, replicas, scheduled runs and gaps longer than the target RPO appear here on a time axis.")
            )}
          </Tabs.Panel>
        </Tabs>
      </Card>
    </>
  );
}
