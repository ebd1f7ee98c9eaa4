// The board: one section per queue, one row per waiting escalation in the order desks are
// served, redrawn from /board/api/escalations on every poll.
"use strict";

(() => {
  const { el, duration, clock, priorityBadge, reasonChip, slaPill, claimPill } = Board;
  const seen = new Set();
  let firstDraw = true;

  function slaCell(row) {
    const share = Math.min(1, row.waiting_seconds / row.sla_seconds);
    const fill = el("span");
    fill.style.width = `${Math.round(share * 100)}%`;
    const remaining = row.sla_remaining_seconds >= 0
      ? `${duration(row.sla_remaining_seconds)} left`
      : `${duration(-row.sla_remaining_seconds)} over`;
    return el("td", { className: "col-sla" },
      slaPill(row.sla_state),
      el("span", { className: "sub" }, remaining),
      el("div", { className: `sla-meter sla-${row.sla_state}` }, fill));
  }

  function deskCell(claim) {
    if (!claim) return el("td", { className: "col-desk" }, claimPill(null));
    const again = claim.deliveries > 1 ? ` · delivery ${claim.deliveries}` : "";
    return el("td", { className: "col-desk" },
      claimPill(claim),
      el("span", { className: "sub mono" }, claim.consumer),
      el("span", { className: "sub" }, `held ${duration(claim.idle_seconds)}${again}`));
  }

  function entryRow(row) {
    const evidence = row.first_evidence;
    const tr = el("tr",
      { className: `sla-${row.sla_state}`, dataset: { escalationId: row.escalation_id } },
      el("td", { className: "col-prio" }, priorityBadge(row.priority)),
      el("td", { className: "col-session" },
        el("a", { className: "session-link", href: Board.sessionHref(row.session_id) },
          row.session_id),
        el("span", { className: "sub" },
          [row.channel, row.customer_tier].filter(Boolean).join(" · ") || "\u00a0")),
      el("td", { className: "col-reasons" },
        el("div", { className: "chips reasons" }, ...row.reasons.map(reasonChip))),
      el("td", { className: "col-waiting" },
        el("span", { className: "waiting" }, duration(row.waiting_seconds)),
        el("span", { className: "sub" }, `since ${clock(row.enqueued_at)}`)),
      slaCell(row),
      deskCell(row.claim),
      el("td", { className: "evidence-cell", title: evidence.excerpt },
        el("span", { className: "cue" }, `${evidence.cue}`),
        el("span", { className: "excerpt" }, `\u201c${evidence.excerpt}\u201d`)));
    if (!firstDraw && !seen.has(row.escalation_id)) tr.classList.add("fresh");
    return tr;
  }

  function queueSection(queue) {
    const header = el("header", null,
      el("h2", null, queue.queue),
      el("span", { className: "meta" },
        el("b", null, String(queue.waiting)), " waiting · ",
        el("b", null, String(queue.claimed)), " claimed · SLA ",
        el("b", null, duration(queue.sla_seconds))));
    const head = el("thead", null, el("tr", null,
      ...["Prio", "Session", "Reasons", "Waiting", "SLA", "Desk", "First evidence"]
        .map((title) => el("th", null, title))));
    const rows = queue.entries.length
      ? queue.entries.map(entryRow)
      : [el("tr", null, el("td", { className: "nothing" }, "Nothing waiting."))];
    if (!queue.entries.length) rows[0].firstChild.colSpan = 7;
    return el("section", { className: "queue", dataset: { queue: queue.queue } },
      header, el("table", null, head, el("tbody", null, ...rows)));
  }

  function draw(body) {
    for (const name of ["waiting", "claimed", "due_soon", "breached"]) {
      document.getElementById(`total-${name}`).textContent = String(body.totals[name]);
    }
    const sections = body.queues.map(queueSection);
    if (!sections.length) {
      sections.push(el("p", { className: "empty-board" },
        "No escalation has been queued yet. Queues appear here as soon as the first one is."));
    }
    document.getElementById("queues").replaceChildren(...sections);
    for (const queue of body.queues) for (const row of queue.entries) seen.add(row.escalation_id);
    firstDraw = false;
    Board.setStatus(true, `live · updated ${clock(body.now)}`);
  }

  let lastUpdate = null;
  Board.poll(
    "/board/api/escalations",
    (body) => { lastUpdate = body.now; draw(body); },
    (reason) => Board.setStatus(false,
      lastUpdate ? `${reason} · showing ${clock(lastUpdate)}` : reason),
  );
})();
