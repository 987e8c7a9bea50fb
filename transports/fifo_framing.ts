// The OpenSIPS mi_fifo request framing, as a byte-stream parser:
//
//   ':' reply_name ':' JSON-value   (a newline after it is optional)
//
// The request FIFO is one stream shared by every client, so the parser must
// find where each request ends without a length prefix or a terminator: the
// python `opensips` client sends no newline and then waits. It tracks JSON
// nesting (strings and escapes included) to see where the value closes, and
// only then hands the text to the MI core, which does the real JSON parsing.
// Scanning is one pass over the bytes; a read holding whole requests is not
// copied.
//
// Bad input never stalls the stream (docs/protocol.md, "FIFO"): text that
// cannot start a request, a value that is not JSON, text after the value and
// oversize values are reported, and the parser resynchronises at the next
// line that starts with ':'. Because the python client never writes a
// newline, a read that starts with ':' is a resync point too while the
// parser skips garbage or discards an oversize value: pipe writes up to 4096
// bytes are atomic, so a read that starts with ':' is where some client's
// write starts. An oversize value is scanned to its end without being kept,
// so its real size can be reported.
//
// Inside a value the parser follows JSON's grammar (what may come next: a
// key, a colon, a value, a comma or a close), so a ':' ends the current
// request only where it cannot continue the value — wherever it comes, at
// a line start or at the start of a read. A slow writer whose next piece
// starts with the colon after a key is never cut. Once a value has broken
// the grammar, it is bound for -32700 anyway, and the parser only looks for
// its end or for a line that starts with ':'.
//
// Time cuts a request in one way only: `expire()`, which the reader calls
// once no byte has arrived for `fifo.partial_timeout_ms`, answers whatever
// request is unfinished with -32700 and starts afresh. While bytes keep
// arriving, a request in progress is never cut by a pause.
//
// The listener stops its own reader by writing a marker (NUL + random text +
// LF) through a second descriptor: everything written before the marker is
// delivered first, so a shutdown loses no request already in the pipe.

const COLON = 0x3a;
const LF = 0x0a;
const NUL = 0;

const S_IDLE = 0; // between requests
const S_NAME = 1; // inside the reply name
const S_PRE = 2; // after ':name:', before the value
const S_NEST = 3; // inside an object or array
const S_TOPSTR = 4; // inside a top-level string
const S_SCALAR = 5; // inside a top-level number or literal
const S_AFTER = 6; // a value ended; only whitespace or ':' may follow
const S_SKIP = 7; // discarding until a resync point

// What the grammar lets come next inside a nested value.
const E_KEY_OR_CLOSE = 0; // after '{'
const E_KEY = 1; // after ',' in an object
const E_COLON = 2; // after a key
const E_VALUE = 3; // after ':', or ',' in an array
const E_VALUE_OR_CLOSE = 4; // after '['
const E_COMMA_OR_CLOSE = 5; // after a value
const E_SCALAR = 6; // inside a number or literal

/** Longest reply name (NAME_MAX); longer means the text is not a request. */
export const MAX_NAME_BYTES = 255;

export interface FramerSink {
  /** A complete request; `name` "" means no reply is wanted. */
  request(name: string, text: string): void;
  /** A request whose text is not one JSON value; the client waits on `name`. */
  parseError(name: string, detail: string): void;
  /** A request over the size limit: `size` bytes of JSON text (so far, when cut short). */
  oversize(name: string, size: number): void;
  /** Text that is not a request at all: nobody to answer. */
  garbage(): void;
  /** The stop marker arrived: every request written before it was delivered. */
  stop(): void;
}

export interface FramerOptions {
  maxRequestBytes: number;
  /** Must start with NUL and contain no other NUL. */
  marker: Uint8Array;
}

const decoder = new TextDecoder();
const EMPTY = new Uint8Array(0);

function isSpace(b: number): boolean {
  return b === 0x20 || b === LF || b === 0x09 || b === 0x0d;
}

function startsScalar(b: number): boolean {
  // A number (- or a digit) or the literals true, false, null.
  return b === 0x2d || (b >= 0x30 && b <= 0x39) || b === 0x74 || b === 0x66 || b === 0x6e;
}

function isScalarByte(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x7a) || (b >= 0x41 && b <= 0x5a) ||
    b === 0x2e || b === 0x2b || b === 0x2d;
}

export class FifoFramer {
  readonly #sink: FramerSink;
  readonly #max: number;
  readonly #marker: Uint8Array;
  #m = 0; // bytes of the marker matched so far
  #stopped = false;

  #state: number = S_IDLE;
  #left: Uint8Array = EMPTY; // bytes of the current request kept from earlier reads
  #nameStart = 0;
  #name = "";
  #valueStart = 0;
  #valueEnd = 0; // S_AFTER: end of the value
  #depth = 0;
  /** Open containers, innermost last: true for an object. */
  #objects: boolean[] = [];
  #expect = E_KEY_OR_CLOSE;
  /** The value so far follows the grammar. */
  #valid = true;
  #strIsKey = false;
  #inStr = false;
  #esc = false;
  #lineStart = false;
  #discard = false; // oversize: scanning to the end without keeping bytes
  #dropped = 0; // value bytes dropped from earlier reads while discarding
  #quiet = false; // S_SKIP entered on a NUL that may be the marker: garbage not reported yet

  constructor(sink: FramerSink, opts: FramerOptions) {
    this.#sink = sink;
    this.#max = opts.maxRequestBytes;
    this.#marker = opts.marker;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** Something is in progress that more bytes would continue: a request, or garbage being skipped. */
  get partial(): boolean {
    return this.#state !== S_IDLE && !this.#stopped;
  }

  /**
   * No byte has arrived for the partial timeout: the request in progress
   * will never be finished. It is answered (-32700; the oversize error when
   * it was over the limit already) and the parser starts afresh.
   */
  expire(): void {
    if (this.#stopped) return;
    const s = this.#state;
    if (s === S_NAME || s === S_PRE || s === S_NEST || s === S_TOPSTR) this.#unfinished();
    else if (s === S_SKIP && this.#quiet) this.#sink.garbage(); // a NUL that was no marker
    this.#state = S_IDLE;
    this.#left = EMPTY;
    this.#m = 0;
    this.#quiet = false;
    this.#discard = false;
  }

  /** Feeds one read; calls the sink for every request completed in it. */
  push(chunk: Uint8Array): void {
    if (this.#stopped || chunk.length === 0) return;
    let buf = chunk, i = 0;
    const s = this.#state;
    if (s === S_SKIP) {
      if (chunk[0] === COLON) this.#state = S_IDLE;
    } else if (s === S_NAME || s === S_PRE || s === S_NEST || s === S_TOPSTR) {
      if (chunk[0] === COLON && this.#discard && !this.#colonContinues()) {
        this.#unfinished();
        this.#state = S_IDLE;
        this.#left = EMPTY;
      } else if (this.#left.length > 0) {
        buf = new Uint8Array(this.#left.length + chunk.length);
        buf.set(this.#left);
        buf.set(chunk, this.#left.length);
        i = this.#left.length;
        this.#left = EMPTY;
      }
    }
    const marker = this.#marker, n = buf.length;
    for (; i < n; i++) {
      const b = buf[i];
      if (b === marker[this.#m]) {
        if (++this.#m === marker.length) return this.#stop();
      } else this.#m = b === NUL ? 1 : 0;

      switch (this.#state) {
        case S_IDLE:
          if (b === COLON) this.#beginName(i);
          else if (!isSpace(b)) this.#skip(b === NUL ? "quiet" : "garbage");
          break;
        case S_NAME:
          if (b === COLON) {
            this.#name = decoder.decode(buf.subarray(this.#nameStart, i));
            this.#state = S_PRE;
            this.#lineStart = false;
          } else if (b === LF || i - this.#nameStart >= MAX_NAME_BYTES) {
            this.#skip("garbage");
            this.#lineStart = b === LF;
          }
          break;
        case S_PRE:
          if (isSpace(b)) break;
          if (b === COLON) {
            // No JSON value starts with ':': this is the next request.
            this.#sink.parseError(this.#name, `no JSON value after ':${this.#name}:'`);
            this.#beginName(i);
          } else this.#beginValue(b, i);
          break;
        case S_NEST:
          this.#nest(b, i);
          break;
        case S_TOPSTR:
          if (this.#esc) this.#esc = false;
          else if (b === 0x5c) this.#esc = true;
          else if (b === 0x22) this.#complete(i + 1);
          else if (b === LF) this.#broken("a line break inside a JSON string");
          break;
        case S_SCALAR:
          if (!isScalarByte(b)) {
            // This byte belongs to what follows the value.
            if (this.#complete(i)) this.#after(buf, b, i);
            else if (b === COLON) this.#beginName(i);
            else if (!isSpace(b)) this.#skip("garbage");
          }
          break;
        case S_AFTER:
          this.#after(buf, b, i);
          break;
        case S_SKIP:
          if (this.#quiet && this.#m === 0) {
            // The NUL that led here was not the stop marker after all.
            this.#quiet = false;
            this.#sink.garbage();
          }
          if (b === LF) this.#lineStart = true;
          else if (b === COLON && this.#lineStart) this.#beginName(i);
          else this.#lineStart = false;
          break;
      }
    }
    // End of this read: a number, or a value followed only by whitespace, is
    // complete (the client wrote it in one write and is waiting).
    if (this.#state === S_SCALAR) this.#complete(n);
    if (this.#state === S_AFTER) {
      this.#deliver(buf);
      this.#state = S_IDLE;
    }
    if (this.#state === S_NAME) this.#keep(buf, this.#nameStart);
    else if (this.#state === S_NEST || this.#state === S_TOPSTR) {
      const size = this.#dropped + n - this.#valueStart;
      if (!this.#discard && size <= this.#max) this.#keep(buf, this.#valueStart);
      else {
        this.#discard = true;
        this.#dropped = size;
        this.#valueStart = 0;
      }
    }
  }

  #stop(): void {
    const s = this.#state;
    if (s === S_NAME || s === S_PRE || s === S_NEST || s === S_TOPSTR) this.#unfinished();
    this.#stopped = true;
    this.#left = EMPTY;
    this.#sink.stop();
  }

  #keep(buf: Uint8Array, from: number): void {
    this.#left = buf.slice(from);
    this.#nameStart -= from;
    this.#valueStart -= from;
  }

  #beginName(i: number): void {
    this.#state = S_NAME;
    this.#nameStart = i + 1;
  }

  #beginValue(b: number, i: number): void {
    this.#valueStart = i;
    this.#discard = false;
    this.#dropped = 0;
    this.#esc = false;
    if (b === 0x7b || b === 0x5b) {
      this.#state = S_NEST;
      this.#depth = 1;
      this.#objects = [b === 0x7b];
      this.#expect = b === 0x7b ? E_KEY_OR_CLOSE : E_VALUE_OR_CLOSE;
      this.#valid = true;
      this.#inStr = false;
      this.#lineStart = false;
    } else if (b === 0x22) this.#state = S_TOPSTR;
    else if (startsScalar(b)) this.#state = S_SCALAR;
    else {
      this.#sink.parseError(this.#name, "the text after ':name:' is not a JSON value");
      this.#skip("silent");
    }
  }

  #nest(b: number, i: number): void {
    if (this.#inStr) {
      if (this.#esc) this.#esc = false;
      else if (b === 0x5c) this.#esc = true;
      else if (b === 0x22) {
        this.#inStr = false;
        this.#expect = this.#strIsKey ? E_COLON : E_COMMA_OR_CLOSE;
      } else if (b === LF) this.#broken("a line break inside a JSON string");
      return;
    }
    if (!this.#valid) return this.#nestBroken(b, i);
    if (this.#expect === E_SCALAR) {
      if (isScalarByte(b)) return;
      this.#expect = E_COMMA_OR_CLOSE;
    }
    if (isSpace(b)) return;
    switch (this.#expect) {
      case E_KEY_OR_CLOSE:
      case E_KEY:
        if (b === 0x22) return this.#string(true);
        if (b === 0x7d && this.#expect === E_KEY_OR_CLOSE) return this.#close(i);
        break;
      case E_COLON:
        if (b === COLON) {
          this.#expect = E_VALUE;
          return;
        }
        break;
      case E_VALUE:
      case E_VALUE_OR_CLOSE:
        if (b === 0x7b || b === 0x5b) {
          this.#depth++;
          this.#objects.push(b === 0x7b);
          this.#expect = b === 0x7b ? E_KEY_OR_CLOSE : E_VALUE_OR_CLOSE;
          return;
        }
        if (b === 0x22) return this.#string(false);
        if (startsScalar(b)) {
          this.#expect = E_SCALAR;
          return;
        }
        if (b === 0x5d && this.#expect === E_VALUE_OR_CLOSE) return this.#close(i);
        break;
      case E_COMMA_OR_CLOSE: {
        const inObject = this.#objects[this.#objects.length - 1];
        if (b === 0x2c) {
          this.#expect = inObject ? E_KEY : E_VALUE;
          return;
        }
        if (b === (inObject ? 0x7d : 0x5d)) return this.#close(i);
        break;
      }
    }
    // This byte cannot continue the value.
    if (b === COLON) {
      // The start of the next request; this one was never finished.
      this.#unfinished();
      this.#beginName(i);
      return;
    }
    // Bound for -32700: find its end by nesting alone, or a line starting with ':'.
    this.#valid = false;
    this.#nestBroken(b, i);
  }

  #string(isKey: boolean): void {
    this.#inStr = true;
    this.#strIsKey = isKey;
    this.#esc = false;
  }

  #close(i: number): void {
    this.#objects.pop();
    if (--this.#depth === 0) this.#complete(i + 1);
    else this.#expect = E_COMMA_OR_CLOSE;
  }

  /** A value that broke the grammar: nesting only, as far as its end or a line starting with ':'. */
  #nestBroken(b: number, i: number): void {
    if (b === 0x22) {
      this.#inStr = true;
      this.#strIsKey = false;
      this.#lineStart = false;
    } else if (b === 0x7b || b === 0x5b) {
      this.#depth++;
      this.#objects.push(b === 0x7b);
      this.#lineStart = false;
    } else if (b === 0x7d || b === 0x5d) {
      this.#objects.pop();
      if (--this.#depth === 0) this.#complete(i + 1);
      this.#lineStart = false;
    } else if (b === LF) this.#lineStart = true;
    else if (b === COLON && this.#lineStart) {
      this.#unfinished();
      this.#beginName(i);
    } else if (!isSpace(b)) this.#lineStart = false;
  }

  /** Whether a ':' now would continue the value in progress (a key's colon). */
  #colonContinues(): boolean {
    return this.#state === S_NEST && this.#valid && !this.#inStr && this.#expect === E_COLON;
  }

  #after(buf: Uint8Array, b: number, i: number): void {
    if (b === COLON) {
      this.#deliver(buf);
      this.#beginName(i);
    } else if (b === NUL) {
      // Perhaps the stop marker: the request before it is whole, deliver it.
      this.#deliver(buf);
      this.#skip("quiet");
    } else if (!isSpace(b)) {
      this.#sink.parseError(this.#name, "text after the JSON value");
      this.#skip("silent");
    }
  }

  /** The value ends at `end`; true when it waits in S_AFTER, false when it was oversize. */
  #complete(end: number): boolean {
    const size = this.#dropped + end - this.#valueStart;
    if (this.#discard || size > this.#max) {
      this.#sink.oversize(this.#name, size);
      this.#discard = false;
      this.#state = S_IDLE;
      return false;
    }
    this.#valueEnd = end;
    this.#state = S_AFTER;
    return true;
  }

  #deliver(buf: Uint8Array): void {
    this.#sink.request(this.#name, decoder.decode(buf.subarray(this.#valueStart, this.#valueEnd)));
  }

  /** The value cannot be JSON: report it and resynchronise. */
  #broken(detail: string): void {
    if (this.#discard) this.#sink.oversize(this.#name, this.#dropped);
    else this.#sink.parseError(this.#name, detail);
    this.#skip("silent");
    this.#lineStart = true;
  }

  /** The current request ends before its value does. */
  #unfinished(): void {
    const s = this.#state;
    if (s === S_NAME) this.#sink.garbage();
    else if (s === S_PRE) this.#sink.parseError(this.#name, "no JSON value after the reply name");
    else if (this.#discard) this.#sink.oversize(this.#name, this.#dropped);
    else this.#sink.parseError(this.#name, "the JSON value is incomplete");
    this.#discard = false;
  }

  #skip(report: "garbage" | "quiet" | "silent"): void {
    if (report === "garbage") this.#sink.garbage();
    this.#quiet = report === "quiet";
    this.#state = S_SKIP;
    this.#lineStart = false;
    this.#discard = false;
  }
}
