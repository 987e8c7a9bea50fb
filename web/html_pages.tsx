// The pages of the HTML interface (the OpenSIPS mi_html idea): modules →
// a module's commands → a command page with a form per recipe and a raw
// JSON `arg` box, and the reply pretty-printed. Forms of commands that may
// change state post, with this daemon's form token; the others are GET
// forms, like mi_html's `?arg=`. Every string is escaped by hono/jsx.

import type { FC } from "hono/jsx";
import type { Command } from "../mi/registry.ts";
import type { MiErrorObject } from "./gateway.ts";
import { Layout } from "./html_layout.tsx";
import { recipeMutates } from "./html_params.ts";

export interface Nav {
  root: string;
  modules: readonly string[];
  /** Listed on the home page: where XML-RPC and /metrics answer. */
  xmlrpcPath: string;
  metricsPath: string;
}

const commandHref = (nav: Nav, c: Command) =>
  `/${nav.root}/${encodeURIComponent(c.module)}/${encodeURIComponent(c.name)}`;

function mayChange(c: Command): boolean {
  return c.mutating !== undefined && c.mutating !== false;
}

const Changes: FC<{ cmd: Command }> = ({ cmd }) =>
  mayChange(cmd) ? <span class="tag">may change state</span> : null;

export const HomePage: FC<{ nav: Nav; commands: (m: string) => readonly Command[] }> = (
  { nav, commands },
) => (
  <Layout title="Modules" root={nav.root} modules={nav.modules}>
    <h1>Modules</h1>
    <table>
      <tr>
        <th>module</th>
        <th>commands</th>
      </tr>
      {nav.modules.map((m) => (
        <tr key={m}>
          <td>
            <a href={`/${nav.root}/${encodeURIComponent(m)}`}>{m}</a>
          </td>
          <td>{commands(m).map((c) => c.name).join(", ")}</td>
        </tr>
      ))}
    </table>
    <h2>Also here</h2>
    <ul>
      <li>
        <a href={`/${nav.root}/host`}>The host picture</a>: CPUs, NIC queue IRQs, SIP threads,
        drops.
      </li>
      <li>
        XML-RPC: <code>POST {nav.xmlrpcPath}</code> (Content-Type text/xml).
      </li>
      <li>
        Prometheus metrics: <a href={nav.metricsPath}>{nav.metricsPath}</a>.
      </li>
    </ul>
  </Layout>
);

export const ModulePage: FC<{ nav: Nav; module: string; commands: readonly Command[] }> = (
  { nav, module, commands },
) => (
  <Layout title={`Module ${module}`} root={nav.root} modules={nav.modules} current={module}>
    <h1>Module {module}</h1>
    <table>
      <tr>
        <th>command</th>
        <th>what it does</th>
      </tr>
      {commands.map((c) => (
        <tr key={c.name}>
          <td>
            <a href={commandHref(nav, c)}>{c.name}</a>
            <Changes cmd={c} />
          </td>
          <td>{c.help}</td>
        </tr>
      ))}
    </table>
  </Layout>
);

/** What the form sent, to show it again beside the reply. */
export interface Sent {
  /** The raw `arg` text, when the arg box was used. */
  arg?: string;
  /** Field values by parameter name, when a recipe form was used. */
  fields?: Record<string, string>;
  /** The recipe form used (index), when one was. */
  recipe?: number;
}

export type Outcome =
  | { ok: true; result: unknown }
  | { ok: false; error: MiErrorObject; hint?: string };

export interface CommandPageProps {
  nav: Nav;
  cmd: Command;
  /** The form token, written into every form that posts. */
  token: string;
  sent: Sent;
  outcome?: Outcome;
}

const recipeText = (r: readonly string[]) => r.length === 0 ? "(no parameters)" : r.join(", ");

const TokenField: FC<{ post: boolean; token: string }> = ({ post, token }) =>
  post ? <input type="hidden" name="token" value={token} /> : null;

export const CommandPage: FC<CommandPageProps> = ({ nav, cmd, token, sent, outcome }) => {
  const action = commandHref(nav, cmd);
  const anyPost = mayChange(cmd);
  return (
    <Layout title={cmd.name} root={nav.root} modules={nav.modules} current={cmd.module}>
      <h1>
        {cmd.name}
        <Changes cmd={cmd} />
      </h1>
      <p>{cmd.help}</p>
      <p class="muted">
        Exported by <a href={`/${nav.root}/${encodeURIComponent(cmd.module)}`}>{cmd.module}</a>.
        {anyPost ? " Forms that change state post, and run only from this page." : ""}
      </p>
      <div>
        {cmd.recipes.map((r, i) => {
          const post = recipeMutates(cmd, r);
          return (
            <form key={i} method={post ? "post" : "get"} action={action}>
              <TokenField post={post} token={token} />
              <input type="hidden" name="recipe" value={String(i)} />
              {r.map((name) => (
                <label key={name}>
                  {name}{" "}
                  <input
                    type="text"
                    name={`p.${name}`}
                    required
                    value={sent.recipe === i ? sent.fields?.[name] ?? "" : ""}
                  />
                </label>
              ))}
              <button type="submit">Run {cmd.name}: {recipeText(r)}</button>
            </form>
          );
        })}
        <form method={anyPost ? "post" : "get"} action={action}>
          <TokenField post={anyPost} token={token} />
          <label>
            arg — the params as JSON: <code>[4]</code>,{" "}
            <code>{'{"level": 4}'}</code>; empty for none
            <br />
            <textarea name="arg">{sent.arg ?? ""}</textarea>
          </label>
          <button type="submit">Run with arg</button>
        </form>
      </div>
      {outcome ? <Reply outcome={outcome} /> : null}
    </Layout>
  );
};

const Reply: FC<{ outcome: Outcome }> = ({ outcome }) =>
  outcome.ok
    ? (
      <section class="ok" id="reply">
        <h2>Result</h2>
        <pre id="result">{JSON.stringify(outcome.result, null, 2)}</pre>
      </section>
    )
    : (
      <section class="err" id="reply">
        <h2>
          Error {outcome.error.code}: {outcome.error.message}
        </h2>
        {outcome.error.data !== undefined ? <pre id="error-data">{outcome.error.data}</pre> : null}
        {outcome.hint ? <p>{outcome.hint}</p> : null}
      </section>
    );

/** A page for an HTTP status: what was wrong, in words, and where to go. */
export const StatusPage: FC<{ nav: Nav; status: number; title: string; detail: string }> = (
  { nav, status, title, detail },
) => (
  <Layout title={`${status} ${title}`} root={nav.root} modules={nav.modules}>
    <section class="err">
      <h1>
        {status} {title}
      </h1>
      <p id="detail">{detail}</p>
      <p>
        <a href={`/${nav.root}`}>Back to the modules</a>
      </p>
    </section>
  </Layout>
);
