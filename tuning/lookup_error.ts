// Something the request names does not exist on the host: a NIC, a PID, a
// unit with no processes. The MI module answers these with code 404 and
// the message as is, so it says what was looked for and what exists.

export class LookupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LookupError";
  }
}
