// The systemd unit of the daemon, as `sipmi service unit` prints it and
// `sipmi service install` writes it. docs/service.md explains each choice;
// the short version is in the comments the unit carries, so an operator
// reading /etc/systemd/system/sipmi.service sees why a setting is there or
// why it is missing.

import { DEFAULT_CONFIG_PATH } from "../config/load.ts";
import { NAME, VERSION } from "../mi/version.ts";

export const UNIT_NAME = "sipmi.service";
export const UNIT_PATH = `/etc/systemd/system/${UNIT_NAME}`;
export const WATCHDOG_SEC = 30;

export interface UnitOptions {
  /** The command that runs sipmi: the binary, or deno with its flags and main.ts. */
  exec: readonly string[];
  /** A config path other than the default; passed to `serve --config`. */
  config?: string;
}

/**
 * One word of ExecStart: `%` and `$` are systemd specifiers and variables,
 * so they are doubled; words with spaces or quotes are quoted.
 */
export function execWord(word: string): string {
  const escaped = word.replaceAll("%", "%%").replaceAll("$", "$$$$");
  if (!/[\s"'\\]/.test(escaped)) return escaped;
  return `"${escaped.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

export function renderUnit(o: UnitOptions): string {
  const args = [...o.exec, "serve"];
  if (o.config !== undefined && o.config !== DEFAULT_CONFIG_PATH) args.push("--config", o.config);
  return `# ${UNIT_NAME}: written by \`sipmi service install\` (${NAME} ${VERSION}).
# Local changes belong in a drop-in (\`systemctl edit sipmi\`); install
# rewrites this file.
[Unit]
Description=sipmi: SIP host management interface and tuning
After=network-online.target
Wants=network-online.target
# The boot profile pins the SIP router's threads, so it runs once the router is up.
After=opensips.service kamailio.service

[Service]
Type=notify
NotifyAccess=main
ExecStart=${args.map(execWord).join(" ")}
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=2s
# sipmi pings from its event loop every WATCHDOG_USEC/2: a wedged loop is restarted.
WatchdogSec=${WATCHDOG_SEC}s
# The FIFO, its reply FIFOs and the unix socket (/run/sipmi), snapshots and
# the apply journal (/var/lib/sipmi), the config and profiles (/etc/sipmi).
RuntimeDirectory=sipmi
RuntimeDirectoryMode=0750
StateDirectory=sipmi
StateDirectoryMode=0750
ConfigurationDirectory=sipmi
UMask=0027

# Hardening that still lets sipmi tune the host. It runs as root:
# /proc/irq/*/smp_affinity and /etc/default/irqbalance are root's.
# CAP_SYS_NICE: sched_setaffinity on the SIP router's threads (another user).
# CAP_DAC_OVERRIDE: reply FIFOs that clients of other users create.
# CAP_CHOWN: fifo.user/fifo.group and datagram.user/group.
# CAP_NET_ADMIN: NIC queue settings. CAP_NET_BIND_SERVICE: an HTTP port below 1024.
CapabilityBoundingSet=CAP_SYS_NICE CAP_DAC_OVERRIDE CAP_CHOWN CAP_NET_ADMIN CAP_NET_BIND_SERVICE
NoNewPrivileges=yes
# Read-only everywhere but: IRQ affinity, the irqbalance config (written by
# rename, so its directory), and the directories above.
ProtectSystem=strict
ReadWritePaths=/proc/irq /etc/default
ReadWritePaths=-/etc/sysconfig
PrivateTmp=yes
ProtectHome=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectClock=yes
ProtectHostname=yes
ProtectControlGroups=yes
RestrictNamespaces=yes
LockPersonality=yes
RestrictSUIDSGID=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
SystemCallArchitectures=native
# Left out on purpose:
#   ProtectKernelTunables= makes /proc/irq and /sys read-only (IRQ affinity, RPS).
#   MemoryDenyWriteExecute= breaks V8's JIT compiler.
#   PrivateUsers= and ProtectProc=invisible hide the SIP router's processes
#   from sched_setaffinity and /proc.

[Install]
WantedBy=multi-user.target
`;
}
