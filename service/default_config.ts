// The commented config `sipmi service install` writes when none exists.
// Every key has an embedded default; this file holds what differs on a
// systemd host: the service's /tmp is private (PrivateTmp=yes), so the
// FIFO, its reply FIFOs and the unix socket move to /run/sipmi. A test
// checks it parses and stays in step with the unit.

export function defaultConfigText(): string {
  return `// sipmi configuration, written by \`sipmi service install\`.
// Every key has a default: this file holds what a systemd host changes.
//   sipmi config print    every key with its effective value
//   sipmi config check    validate this file
//   systemctl reload sipmi (or \`sipmi service reload\`) applies a change
{
  // -3 alert .. 4 debug (OpenSIPS scale); \`sipmi mi log_level N\` changes it live.
  "log_level": 3,

  // The service's /tmp is private (PrivateTmp=yes), invisible to clients:
  // the FIFO, the reply FIFOs clients create and the unix socket live in
  // /run/sipmi (the unit's RuntimeDirectory, root only). For opensips-cli:
  //   opensips-cli -o fifo_file=/run/sipmi/sipmi_fifo -o fifo_reply_dir=/run/sipmi/ -x mi uptime
  "fifo": { "path": "/run/sipmi/sipmi_fifo", "reply_dir": "/run/sipmi/" },
  "datagram": { "listen": ["udp:127.0.0.1:8898", "unix:/run/sipmi/sipmi.sock"] },
  "http": {
    "listen": "127.0.0.1:8899"
    // A non-loopback address needs a bearer token:
    // "auth": { "token_file": "/etc/sipmi/token" }
  },

  "tuning": {
    // Snapshots and the apply journal (the unit's StateDirectory).
    "state_dir": "/var/lib/sipmi"
    // "sip": { "nic": "eth0", "ports": [5060] }
  },

  // The boot profile: MI calls run once the listeners are up and before
  // systemd hears READY=1. IRQ affinity does not survive a reboot, so the
  // host's tuning profile is applied here, for example
  //   { "method": "tune_apply", "params": { "profile": "/etc/sipmi/profile.jsonc" } }
  "startup": [],
  // A failed startup call: "continue" keeps MI up and shows the failure in
  // \`systemctl status sipmi\`; "exit" stops the daemon.
  "startup_failure": "continue"
}
`;
}
