// Post-session backups per resource kind: when a user's session closes, back up what it changed.
// Frame offers this for persistent desktops, enterprise profiles and personal drives; Standby
// also for the sandbox and utility servers (through the account's guest agent).
import { Alert, Badge, Button, Checkbox, Group, Stack, Text } from "@mantine/core";
import { IconCircleCheck, IconInfoCircle } from "@tabler/icons-react";
import { useState } from "react";

import { commands, type ApiError, type PostSessionSettings, type ResourceKind } from "../bindings";
import { call, StepError } from "../wizards/parts";

export const POST_SESSION_KINDS: { kind: ResourceKind; label: string; standbyOnly: boolean; what: string }[] = [
  { kind: "sandbox", label: "Sandbox", standbyOnly: true, what: "The sandbox VM's disk, after an administrator's session." },
  {
    kind: "utility_server",
    label: "Utility servers",
    standbyOnly: true,
    what: "A utility server's disk, after a session on it.",
  },
  {
    kind: "persistent_desktop",
    label: "Persistent desktops",
    standbyOnly: false,
    what: "The user's desktop disk, when their session closes.",
  },
  {
    kind: "enterprise_profile",
    label: "Enterprise profiles",
    standbyOnly: false,
    what: "The user's profile disk, when their session closes.",
  },
  {
    kind: "personal_drive",
    label: "Personal drives",
    standbyOnly: false,
    what: "The user's personal drive, when their session closes.",
  },
];

export function describePostSession(enabled: ResourceKind[]): string {
  const names = POST_SESSION_KINDS.filter((k) => enabled.includes(k.kind)).map((k) => k.label.toLowerCase());
  return names.length === 0 ? "Off" : `After each session: ${names.join(", ")}`;
}

/** One switch per kind, with the note on the two kinds Frame itself cannot set. */
export function PostSessionFields(props: { enabled: ResourceKind[]; onChange: (k: ResourceKind[]) => void }) {
  return (
    <Stack gap="xs">
      <Checkbox.Group
        label="Back up after a user's session closes"
        description="Per resource type. Sessions are seen through the cloud account's guest agent."
        value={props.enabled}
        onChange={(v) => props.onChange(POST_SESSION_KINDS.map((k) => k.kind).filter((k) => v.includes(k)))}
      >
        <Stack gap={8} mt="xs">
          {POST_SESSION_KINDS.map((k) => (
            <Checkbox
              key={k.kind}
              value={k.kind}
              data-kind={k.kind}
              label={
                <Group gap={6}>
                  {k.label}
                  {k.standbyOnly && (
                    <Badge size="xs" variant="light" color="violet" tt="none">
                      Standby only
                    </Badge>
                  )}
                </Group>
              }
              description={k.what}
            />
          ))}
        </Stack>
      </Checkbox.Group>
      <Alert variant="light" color="violet" icon={<IconInfoCircle />} p="xs">
        <Text size="sm">
          Frame cannot set a post-session policy for the sandbox or utility servers; Standby can, and backs them up
          after each session like the other types.
        </Text>
      </Alert>
    </Stack>
  );
}

/** The Post-session tab of the Backups settings: the switches and Save. */
export function PostSessionPanel(props: {
  account: string;
  frameAccount: string;
  settings: PostSessionSettings;
  onSaved: (s: PostSessionSettings) => void;
  /** Checks the Frame account field of the dialog; false when it is empty. */
  checkFrameAccount: () => boolean;
}) {
  const [enabled, setEnabled] = useState<ResourceKind[]>(props.settings.enabled);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [saved, setSaved] = useState(false);

  async function save() {
    if (enabled.length > 0 && !props.checkFrameAccount()) return;
    setBusy(true);
    setError(null);
    setSaved(false);
    const out = await call(() =>
      commands.setPostSession(props.account, {
        frame_account: props.frameAccount.trim() || null,
        enabled,
      }),
    );
    setBusy(false);
    if (out.status === "error") return setError(out.error);
    setEnabled(out.data.enabled);
    setSaved(true);
    props.onSaved(out.data);
  }

  return (
    <form
      aria-label="Post-session backups"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        void save();
      }}
    >
      <Stack gap="md">
        <PostSessionFields
          enabled={enabled}
          onChange={(k) => {
            setEnabled(k);
            setSaved(false);
          }}
        />
        {error && <StepError title="The post-session settings were not saved" error={error} testId="post-session-error" />}
        {saved && (
          <Alert color="teal" variant="light" icon={<IconCircleCheck />} role="status" data-testid="post-session-saved">
            Saved. {describePostSession(enabled)}.
          </Alert>
        )}
        <Group justify="flex-end">
          <Button type="submit" loading={busy}>
            Save post-session backups
          </Button>
        </Group>
      </Stack>
    </form>
  );
}
