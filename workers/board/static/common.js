// Shared by the board and the session view. Every piece of data reaches the page through
// text nodes (textContent) or attribute values we build: chat text is hostile input, and no
// data is ever parsed as HTML.
"use strict";

const Board = (() => {
  const SVG_NS = "http://www.w3.org/2000/svg";
  const POLL_MS = 1500;
  const REQUEST_TIMEOUT_MS = 5000;

  /** An HTML element with a class, attributes and children (strings become text nodes). */
  function el(tag, options, ...children) {
    const node = document.createElement(tag);
    const opts = options || {};
    if (opts.className) node.className = opts.className;
    if (opts.href) node.href = opts.href;
    if (opts.title) node.title = opts.title;
    if (opts.dataset) Object.assign(node.dataset, opts.dataset);
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  /** An SVG element; attribute values are numbers or fixed names, never data. */
  function svg(tag, attributes, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      node.setAttribute(name, String(value));
    }
    for (const child of children) node.append(child);
    return node;
  }

  /** 45s, 3m 07s, 2h 05m. */
  function duration(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    if (s < 60) return `${s}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
    return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  }

  function words(code) {
    return String(code).replaceAll("_", " ");
  }

  function clock(iso) {
    return new Date(iso).toLocaleTimeString([], { hour12: false });
  }

  /** 2026-01-05 09:00:20, in the viewer's time zone. */
  function stamp(iso) {
    const date = new Date(iso);
    return `${date.toLocaleDateString("en-CA")} ${clock(iso)}`;
  }

  function priorityBadge(priority) {
    const tier = Math.min(Number(priority), 4);
    return el("span", { className: `prio p${tier}`, title: `priority ${priority}` }, `P${priority}`);
  }

  function reasonChip(reason) {
    return el("span", { className: `chip reason-${reason}` }, words(reason));
  }

  const SLA_LABELS = { ok: "on time", due_soon: "due soon", breached: "breached" };

  function slaPill(state) {
    return el("span", { className: `pill sla-${state}` }, SLA_LABELS[state] || words(state));
  }

  function claimPill(claim) {
    if (!claim) return el("span", { className: "pill unclaimed" }, "unclaimed");
    return el("span", { className: "pill claimed", title: `claimed by ${claim.consumer}` }, "claimed");
  }

  function sessionHref(sessionId) {
    return `/board/sessions/${encodeURIComponent(sessionId)}`;
  }

  /** Top-bar indicator: live while polls succeed, stale (with the reason) when they fail. */
  function setStatus(live, text) {
    const status = document.getElementById("status");
    status.classList.toggle("live", live);
    status.classList.toggle("stale", !live);
    document.getElementById("status-text").textContent = text;
  }

  /**
   * GET ``url`` every POLL_MS and hand the decoded body and HTTP status to ``onData``;
   * ``onError`` gets a short reason when the worker or Redis does not answer. The next poll
   * is scheduled after the previous one ends, so a slow worker is never asked twice at once.
   */
  function poll(url, onData, onError) {
    async function once() {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
      try {
        const response = await fetch(url, { cache: "no-store", signal: controller.signal });
        const body = await response.json();
        if (response.status === 503) onError("Redis unreachable");
        else onData(body, response.status);
      } catch (error) {
        onError("worker unreachable");
      } finally {
        clearTimeout(timer);
        setTimeout(once, POLL_MS);
      }
    }
    once();
  }

  return {
    el, svg, duration, words, clock, stamp, priorityBadge, reasonChip, slaPill, claimPill,
    sessionHref, setStatus, poll,
  };
})();
