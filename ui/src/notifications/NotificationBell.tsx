import { ActionIcon, Indicator, Tooltip } from "@mantine/core";
import { IconBell } from "@tabler/icons-react";

import { useUnread } from "./live";

/** The header's way to the notification center, with the engine's unread count. */
export function NotificationBell(props: { onOpen: () => void; current: boolean }) {
  const { count } = useUnread();
  const unread = count ?? 0;
  const label = unread > 0 ? `Notifications, ${unread} unread` : "Notifications";
  return (
    <Tooltip label={label}>
      <Indicator
        label={<span aria-hidden>{unread > 99 ? "99+" : unread}</span>}
        disabled={unread === 0}
        size={18}
        offset={6}
        color="red"
        withBorder
        data-testid="unread-indicator"
      >
        <ActionIcon
          variant={props.current ? "light" : "subtle"}
          size="lg"
          aria-label={label}
          aria-current={props.current ? "page" : undefined}
          onClick={props.onOpen}
          data-unread={unread}
        >
          <IconBell size={20} />
        </ActionIcon>
      </Indicator>
    </Tooltip>
  );
}
