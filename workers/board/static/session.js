// The session view: one session's waiting escalation, from /board/api/sessions/{id}. The
// escalation itself is drawn once per escalation id (so reading is not disturbed); the waiting
// time, SLA and claim are refreshed on every poll.
"use strict";

(() => {
  const { el, svg, duration, words, clock } = Board;
  const sessionId = decodeURIComponent(window.location.pathname.split("/").pop());
  const ROLES = new Set(["customer", "bot", "agent", "system"]);
  let drawnEscalation = null;

  function byId(id) {
    return document.getElementById(id);
  }

  function showBanner(text) {
    const banner = byId("banner");
    banner.textContent = text;
    banner.hidden = !text;
  }

  // ---- the frustration trend: an SVG line chart, one point per customer turn -------------

  function trendChart(trend, threshold) {
    const width = 640;
    const height = 250;
    const pad = { left: 42, right: 18, top: 14, bottom: 34 };
    const innerWidth = width - pad.left - pad.right;
    const innerHeight = height - pad.top - pad.bottom;
    const x = (index) => (trend.length === 1
      ? pad.left + innerWidth / 2
      : pad.left + (index * innerWidth) / (trend.length - 1));
    const y = (value) => pad.top + (1 - value) * innerHeight;
    const chart = svg("svg", {
      id: "trend-chart", class: "chart", viewBox: `0 0 ${width} ${height}`,
      role: "img", "aria-label": "Frustration score per customer turn, 0 to 1",
    });
    for (const level of [0, 0.25, 0.5, 0.75, 1]) {
      chart.append(svg("line", {
        class: "grid-line", x1: pad.left, x2: width - pad.right, y1: y(level), y2: y(level),
      }));
      const label = svg("text", { class: "axis-label", x: pad.left - 8, y: y(level) + 4, "text-anchor": "end" });
      label.textContent = level.toFixed(2);
      chart.append(label);
    }
    const step = Math.max(1, Math.ceil(trend.length / 12));
    trend.forEach((_, index) => {
      if (index % step !== 0 && index !== trend.length - 1) return;
      const label = svg("text", { class: "axis-label", x: x(index), y: height - 12, "text-anchor": "middle" });
      label.textContent = `turn ${index + 1}`;
      chart.append(label);
    });
    chart.append(svg("line", {
      class: "threshold", x1: pad.left, x2: width - pad.right, y1: y(threshold), y2: y(threshold),
    }));
    const thresholdLabel = svg("text", {
      class: "threshold-label", x: width - pad.right, y: y(threshold) - 6, "text-anchor": "end",
    });
    thresholdLabel.textContent = `negative turn ≥ ${threshold.toFixed(2)}`;
    chart.append(thresholdLabel);
    const points = trend.map((value, index) => `${x(index).toFixed(1)},${y(value).toFixed(1)}`);
    if (trend.length > 1) {
      const area = `M${x(0).toFixed(1)},${y(0)} L${points.join(" L")} L${x(trend.length - 1).toFixed(1)},${y(0)} Z`;
      chart.append(svg("path", { class: "trend-area", d: area }));
    }
    chart.append(svg("polyline", { class: "trend-line", points: points.join(" ") }));
    trend.forEach((value, index) => {
      const point = svg("circle", {
        class: value >= threshold ? "trend-point negative" : "trend-point",
        cx: x(index), cy: y(value), r: 5,
      });
      const title = svg("title");
      title.textContent = `turn ${index + 1}: ${value.toFixed(2)}`;
      point.append(title);
      chart.append(point);
    });
    return chart;
  }

  // ---- the CX Automation Matrix: three bars with the policy's thresholds marked ------------

  /** A 0..1 score as a bar: amber from the watch threshold, red from ``high`` (if any). */
  function bar(label, value, watch, high) {
    const fill = el("div", { className: "bar-fill" });
    fill.style.width = `${Math.round(value * 100)}%`;
    if (high !== undefined && value >= high) fill.classList.add("high");
    else if (value >= watch) fill.classList.add("mid");
    const track = el("div", { className: "bar-track" }, fill);
    const marks = [[watch, "watch"], [high, "human required"]].filter(([mark]) => mark !== undefined);
    for (const [mark, name] of marks) {
      const tick = el("span", { className: "bar-mark", title: `${name} from ${mark.toFixed(2)}` });
      tick.style.left = `calc(${(mark * 100).toFixed(1)}% - 1px)`;
      track.append(tick);
    }
    return el("div", { className: "matrix-bar bar-row", dataset: { score: String(value) } },
      el("div", { className: "bar-head" }, el("span", null, label), el("b", null, value.toFixed(2))),
      track);
  }

  function drawMatrix(matrix, thresholds) {
    if (!matrix) {
      byId("matrix").replaceChildren(el("p", { className: "muted" }, "No matrix scores in this escalation."));
      byId("matrix-footer").replaceChildren();
      return;
    }
    byId("matrix").replaceChildren(
      bar("Emotional load", matrix.emotional_load, thresholds.emotional_load),
      bar("Context ambiguity", matrix.context_ambiguity, thresholds.context_ambiguity),
      bar("Consequence", matrix.consequence, thresholds.consequence,
        thresholds.human_required_consequence),
      el("p", { className: "legend muted" },
        "Marks: where the policy starts to watch (and, for consequence, to require a person)."));
    const topics = matrix.topics.length
      ? matrix.topics.map((topic) => el("span", { className: "chip topic" }, words(topic)))
      : [el("span", { className: "muted" }, "no topic of the taxonomy")];
    byId("matrix-footer").replaceChildren(
      el("span", { className: "muted" }, "verdict"),
      el("span", { className: `pill verdict verdict-${matrix.verdict}` }, words(matrix.verdict)),
      el("span", { className: "muted" }, "topics"),
      ...topics);
  }

  // ---- evidence, packet, transcript ------------------------------------------------------

  function drawEvidence(evidence) {
    byId("evidence").replaceChildren(...evidence.map((item) => el("li", null,
      el("div", null, Board.reasonChip(item.reason)),
      el("div", null,
        el("div", { className: "cue" }, item.cue, el("span", { className: "muted" },
          ` · event ${item.event_id}`)),
        el("blockquote", { className: "quote excerpt" }, item.excerpt || "—")),
      el("div", { className: "score" }, item.score === null ? "" : item.score.toFixed(2)))));
  }

  function definitions(pairs) {
    const list = el("dl");
    for (const [term, value] of pairs) {
      if (value === null || value === undefined || value === "") continue;
      list.append(el("dt", null, term), el("dd", null, String(value)));
    }
    return list;
  }

  function drawPacket(handoff) {
    const facts = Object.entries(handoff.facts);
    const actions = handoff.actions.length
      ? el("table", null,
        el("thead", null, el("tr", null, el("th", null, "Action"), el("th", null, "Outcome"))),
        el("tbody", null, ...handoff.actions.map((action) => el("tr", null,
          el("td", { className: "mono" }, action.name),
          el("td", { className: `status-${action.status}` }, words(action.status))))))
      : el("p", { className: "muted" }, "The bot took no action.");
    const context = [
      ["channel", handoff.channel], ["locale", handoff.locale], ["tier", handoff.customer_tier],
      ["customer turns", handoff.customer_turns], ["bot turns", handoff.bot_turns],
      ...Object.entries(handoff.metadata),
    ];
    const parts = [
      el("div", { className: "wide" },
        el("h3", null, "Goal, in the customer's words"),
        el("blockquote", { className: "quote goal" }, handoff.goal || "—")),
      el("div", null, el("h3", null, "Facts already given"),
        facts.length
          ? definitions(facts.map(([kind, values]) => [words(kind), values.join(", ")]))
          : el("p", { className: "muted" }, "None recognised.")),
      el("div", null, el("h3", null, "What the bot tried"), actions),
      el("div", { className: "wide" }, el("h3", null, "Context"), definitions(context)),
    ];
    if (handoff.truncated) {
      parts.push(el("p", { className: "wide muted" },
        "Parts of this packet were cut to fit its size limit."));
    }
    byId("packet").replaceChildren(...parts);
  }

  function drawTranscript(turns) {
    byId("transcript").replaceChildren(...turns.map((turn) => {
      const role = ROLES.has(turn.role) ? turn.role : "system";
      return el("div", { className: `turn ${role}` },
        el("div", { className: "who" }, `${turn.role} · ${clock(turn.ts)}`),
        el("div", { className: "text" }, turn.text));
    }));
  }

  function drawEscalation(body) {
    const escalation = body.escalation;
    byId("session-id").textContent = escalation.session_id;
    byId("reasons").replaceChildren(...escalation.reasons.map(Board.reasonChip));
    byId("ids").textContent = `escalation ${escalation.escalation_id} · trigger event `
      + `${escalation.trigger_event_id} · created ${Board.stamp(escalation.created_at)}`;
    const frustration = escalation.frustration;
    byId("trend").replaceChildren(frustration.trend.length
      ? trendChart(frustration.trend, body.thresholds.negative_turn_score)
      : el("p", { className: "muted" }, "No customer turn was scored."));
    byId("trend-caption").textContent = `session level ${frustration.level.toFixed(2)} · `
      + `${frustration.consecutive_negative_turns} consecutive negative turn(s) · `
      + `${frustration.trend.length} customer turn(s) scored`;
    drawMatrix(escalation.matrix, body.thresholds);
    drawEvidence(escalation.evidence);
    drawPacket(escalation.handoff);
    drawTranscript(escalation.handoff.transcript);
    document.title = `escalator · ${escalation.session_id}`;
  }

  function drawLive(entry) {
    const remaining = entry.sla_remaining_seconds >= 0
      ? `${duration(entry.sla_remaining_seconds)} left`
      : `${duration(-entry.sla_remaining_seconds)} over`;
    const facts = [
      el("span", { className: "chip" }, `queue ${entry.queue}`),
      Board.priorityBadge(entry.priority),
      Board.slaPill(entry.sla_state),
      el("span", { className: "muted" }, `waiting ${duration(entry.waiting_seconds)} · ${remaining}`),
      Board.claimPill(entry.claim),
    ];
    if (entry.claim) facts.push(el("span", { className: "muted mono" }, entry.claim.consumer));
    byId("live-facts").replaceChildren(...facts);
  }

  Board.poll(
    `/board/api/sessions/${encodeURIComponent(sessionId)}`,
    (body, status) => {
      if (status === 404) {
        if (drawnEscalation) {
          showBanner("This escalation no longer waits in a queue: a person accepted it, or it "
            + "was withdrawn (session ended, handed back). The last data stays on screen.");
          byId("live-facts").replaceChildren(el("span", { className: "pill gone" }, "not waiting"));
        } else {
          byId("session-id").textContent = sessionId;
          showBanner("Nothing of this session waits in a queue: it was not escalated, a person "
            + "already accepted it, or the session ended.");
        }
        Board.setStatus(true, "live");
        return;
      }
      showBanner("");
      if (drawnEscalation !== body.escalation.escalation_id) {
        drawEscalation(body);
        drawnEscalation = body.escalation.escalation_id;
      }
      drawLive(body.entry);
      Board.setStatus(true, `live · updated ${clock(body.now)}`);
    },
    (reason) => Board.setStatus(false, reason),
  );
})();
