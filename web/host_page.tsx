// The host picture's page: the SVG, `tune doctor`'s findings beside it, the
// last plan and drift when the daemon has tuning transactions, the SIP
// NIC's queue IRQs and the SIP router's processes as tables. A part whose
// command failed shows the MI error in its place.

import type { FC } from "hono/jsx";
import type { MiErrorObject } from "./gateway.ts";
import type {
  DoctorResult,
  HostData,
  ShowNic,
  TuneShowResult,
  TuneStatusResult,
} from "./host_data.ts";
import type { HostModel } from "./host_model.ts";
import { HostSvg } from "./host_svg.tsx";
import { Layout } from "./html_layout.tsx";

/** Rows of the queue table beyond which the page says "and N more". */
const MAX_QUEUE_ROWS = 256;

const Failed: FC<{ what: string; error: MiErrorObject }> = ({ what, error }) => (
  <section class="err">
    <h2>
      {what}: error {error.code} {error.message}
    </h2>
    {error.data !== undefined ? <pre>{error.data}</pre> : null}
  </section>
);

const Summary: FC<{ show: TuneShowResult; model: HostModel }> = ({ show, model }) => {
  const nic = model.nic;
  const parts: string[] = [];
  parts.push(
    nic === null
      ? (model.nicError ?? "no SIP NIC")
      : `SIP NIC ${nic.name}: ${nic.queues} queue IRQs${
        nic.node !== null ? `, NUMA node ${nic.node}` : ""
      }${nic.local ? `, local CPUs ${nic.local}` : ""}`,
  );
  parts.push(
    model.sipFound === null
      ? "SIP router: not found"
      : `SIP router (${model.sipFound}): ${model.sipThreads} threads`,
  );
  parts.push(
    `irqbalance: ${show.irqbalance.running ? "running" : "not running"}${
      show.irqbalance.banned_cpus ? `, banned CPUs ${show.irqbalance.banned_cpus}` : ""
    }`,
  );
  if (model.requestedEverywhere > 0) {
    parts.push(`${model.requestedEverywhere} queue IRQs may run on every CPU`);
  }
  const rates = model.interval === null
    ? "First view: counts since boot. Load the page again for rates since this view."
    : `Rates over the ${model.interval.toFixed(1)} s since the previous view.`;
  const { irqWithoutSip, dropsRising } = model.mismatches;
  return (
    <>
      <p id="summary">{parts.join(" · ")}</p>
      <p class="muted">{rates}</p>
      {irqWithoutSip + dropsRising > 0
        ? (
          <p class="warning" id="mismatch">
            {irqWithoutSip > 0
              ? `A queue IRQ fires on ${irqWithoutSip} CPU(s) where no SIP thread runs. `
              : ""}
            {dropsRising > 0
              ? `Softnet drops rose on ${dropsRising} CPU(s) since the last view.`
              : ""}
          </p>
        )
        : null}
    </>
  );
};

const Findings: FC<{ doctor: DoctorResult }> = ({ doctor }) => (
  <div id="findings">
    <h2>tune doctor</h2>
    {doctor.findings.length === 0 ? <p>No findings.</p> : null}
    <ul class="findings">
      {doctor.findings.map((f) => (
        <li key={f.id}>
          <span class={f.severity === "warning" ? "warning" : "info"}>{f.severity}</span> {f.title}
          <ul>
            {f.evidence.map((e, i) => <li key={i} class="muted">{e}</li>)}
          </ul>
          <div>{f.advice}</div>
        </li>
      ))}
    </ul>
    {doctor.skipped && doctor.skipped.length > 0
      ? (
        <p class="muted">
          Not checked: {doctor.skipped.map((s) => `${s.check} (${s.reason})`).join("; ")}
        </p>
      )
      : null}
  </div>
);

const Transactions: FC<{ status: TuneStatusResult }> = ({ status }) => {
  const v = status.last_verify, p = status.last_plan;
  return (
    <div id="transactions">
      <h2>Last verification</h2>
      {v === null ? <p class="muted">No verification has run in this daemon yet.</p> : (
        <>
          <p class={v.in_sync ? "" : "warning"}>
            {v.profile} checked {v.checked_at}:{" "}
            {v.in_sync ? "in sync" : `${v.drift.length} item(s) drifted`}
          </p>
          {v.drift.length > 0
            ? (
              <table>
                <tr>
                  <th>item</th>
                  <th>target</th>
                  <th>has</th>
                  <th>profile wants</th>
                  <th>cause</th>
                </tr>
                {v.drift.map((d, i) => (
                  <tr key={i}>
                    <td>{d.item}</td>
                    <td>{d.target}</td>
                    <td>{d.have}</td>
                    <td>{d.want}</td>
                    <td>{d.cause}</td>
                  </tr>
                ))}
              </table>
            )
            : null}
        </>
      )}
      <h2>Last plan</h2>
      {p === null ? <p class="muted">No plan has been made in this daemon yet.</p> : (
        <>
          <p>
            {p.what}: {p.changes.length} change(s)
            {p.errors && p.errors.length > 0 ? `; errors: ${p.errors.join("; ")}` : ""}
          </p>
          {p.changes.length > 0
            ? (
              <table>
                <tr>
                  <th>target</th>
                  <th>old</th>
                  <th>new</th>
                  <th>reason</th>
                </tr>
                {p.changes.map((c, i) => (
                  <tr key={i}>
                    <td>{c.target}</td>
                    <td>{c.old}</td>
                    <td>{c.new}</td>
                    <td>{c.reason}</td>
                  </tr>
                ))}
              </table>
            )
            : null}
        </>
      )}
    </div>
  );
};

const Queues: FC<{ nic: ShowNic }> = ({ nic }) => (
  <>
    <h2>{nic.name} queue IRQs</h2>
    <table id="queues">
      <tr>
        <th>IRQ</th>
        <th>name</th>
        <th>queue</th>
        <th>requested CPUs</th>
        <th>effective CPUs</th>
        <th>took interrupts on</th>
      </tr>
      {nic.queue_irqs.slice(0, MAX_QUEUE_ROWS).map((q) => (
        <tr key={q.irq}>
          <td>{q.irq}</td>
          <td>{q.name}</td>
          <td>{q.kind !== undefined ? `${q.kind} ${q.queue ?? ""}` : ""}</td>
          <td>{q.smp_affinity_list ?? "?"}</td>
          <td>{q.effective_affinity_list ?? "?"}</td>
          <td>{q.active_cpus ?? ""}</td>
        </tr>
      ))}
    </table>
    {nic.queue_irqs.length > MAX_QUEUE_ROWS
      ? <p class="muted">... and {nic.queue_irqs.length - MAX_QUEUE_ROWS} more</p>
      : null}
  </>
);

const Processes: FC<{ show: TuneShowResult }> = ({ show }) => {
  const procs = show.sip.affinity?.processes ?? [];
  if (procs.length === 0) return null;
  return (
    <>
      <h2>SIP router processes ({show.sip.found_by})</h2>
      <table id="processes">
        <tr>
          <th>pid</th>
          <th>name</th>
          <th>threads</th>
          <th>thread CPUs (threads)</th>
        </tr>
        {procs.map((p) => (
          <tr key={p.pid}>
            <td>{p.pid}</td>
            <td>{p.comm}</td>
            <td>{p.threads}</td>
            <td>
              {Object.entries(p.thread_cpus).map(([m, n]) => `${m} (${n})`).join(", ")}
            </td>
          </tr>
        ))}
      </table>
    </>
  );
};

export interface HostPageProps {
  root: string;
  modules: readonly string[];
  data: HostData;
  model: HostModel | null;
  nic?: string;
}

export const HostPage: FC<HostPageProps> = ({ root, modules, data, model, nic }) => {
  const show = data.show;
  return (
    <Layout title="Host picture" root={root} modules={modules} current="host">
      <h1>Host picture</h1>
      <form method="get" action={`/${root}/host`}>
        <label>
          NIC <input type="text" name="nic" value={nic ?? ""} placeholder="the SIP NIC" />
        </label>
        <button type="submit">Show</button>{" "}
        <a href={`/${root}/host.svg${nic !== undefined ? `?nic=${encodeURIComponent(nic)}` : ""}`}>
          the picture alone (SVG)
        </a>
      </form>
      {!show.ok ? <Failed what="tune_show" error={show.error} /> : null}
      {show.ok && model !== null ? <Summary show={show.value} model={model} /> : null}
      <div class="cols">
        {model !== null
          ? (
            <div class="pic" id="picture">
              <HostSvg model={model} />
            </div>
          )
          : null}
        <div>
          {data.doctor.ok
            ? <Findings doctor={data.doctor.value} />
            : <Failed what="tune_doctor" error={data.doctor.error} />}
          {!data.stats.ok ? <Failed what="host_stats" error={data.stats.error} /> : null}
          {data.status === undefined
            ? null
            : data.status.ok
            ? <Transactions status={data.status.value} />
            : <Failed what="tune_status" error={data.status.error} />}
        </div>
      </div>
      {show.ok && !("error" in show.value.nic) ? <Queues nic={show.value.nic} /> : null}
      {show.ok ? <Processes show={show.value} /> : null}
    </Layout>
  );
};
