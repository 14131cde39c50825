// The plenum board: draws the workshop's posters from the server's JSON, runs the countdown
// on the server's clock, and follows every change over server-sent events. Text goes in with
// textContent only: nothing anyone typed can become markup. No libraries, nothing fetched
// from elsewhere.
"use strict";

(function () {
  const MIN_FONT = 9; // px: below this the room could not read it anyway
  const CHECK_MS = 2000; // after the stream was refused: ask again this often
  let board = null;
  let labels = {};
  let sync = { now: 0, at: 0, rate: 1 };
  let source = null;
  let retry = null;

  function h(tag, attrs, children) {
    const el = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) el.setAttribute(name, value);
    for (const child of [].concat(children === undefined ? [] : children)) {
      el.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return el;
  }

  // -- the clock ------------------------------------------------------------------------
  function serverNow() {
    return sync.now + (performance.now() - sync.at) * sync.rate;
  }

  function clockText(seconds) {
    const s = Math.max(0, Math.ceil(seconds));
    const two = (n) => String(n).padStart(2, "0");
    const hours = Math.floor(s / 3600);
    const rest = `${two(Math.floor((s % 3600) / 60))}:${two(s % 60)}`;
    return hours ? `${hours}:${rest}` : rest;
  }

  function tick() {
    if (!board) return;
    const clock = document.getElementById("clock");
    let state, label, shown;
    if (board.paused_left !== null) {
      [state, label, shown] = ["paused", labels.paused, clockText(board.paused_left)];
    } else if (board.ends_at) {
      const left = (Date.parse(board.ends_at) - serverNow()) / 1000;
      [state, label, shown] = left > 0 ? ["running", labels.time_left, clockText(left)]
        : ["up", labels.time_up, "00:00"];
    } else {
      state = "none";
    }
    clock.dataset.state = state;
    clock.hidden = state === "none";
    if (state === "none") return;
    document.getElementById("clock-label").textContent = label;
    document.getElementById("countdown").textContent = shown;
    document.getElementById("ends").textContent =
      state === "paused" ? "" : `${labels.ends} ${board.ends_shown}`;
  }

  // -- the posters ----------------------------------------------------------------------
  function dots(poster) {
    if (!poster.voters) return h("p", { class: "dots muted" }, labels.no_dots);
    const most = Math.max(...poster.dots.map((d) => d.count));
    return h("p", { class: "dots", "aria-label": labels.dots },
      poster.dots.map((d) => h("span", { class: d.count === most ? "tally lead" : "tally", "data-level": d.level }, [
        h("span", { class: "level-name" }, d.label),
        h("span", { class: "pips", "aria-hidden": "true" }, "●".repeat(Math.min(d.count, 12))),
        h("b", { class: "count" }, String(d.count)),
      ])));
  }

  function goals(poster) {
    if (!poster.goals.length) return h("p", { class: "goals muted" }, labels.no_goals);
    return h("ol", { class: "goals", "aria-label": labels.goals }, poster.goals.map((g) => {
      const meta = [];
      if (g.owner) meta.push(`${labels.owner}: ${g.owner}`);
      if (g.deadline) meta.push(`${labels.deadline}: ${g.deadline}`);
      return h("li", {}, [h("span", { class: "goal-text" }, `${g.number}. ${g.text}`),
        meta.length ? h("span", { class: "goal-meta" }, meta.join(" · ")) : ""]);
    }));
  }

  function poster(p) {
    const el = h("article", { class: `poster status-${p.status}`, "data-measure": p.id },
      h("h3", {}, p.name));
    if (!board.show_dots) {
      if (p.current) el.append(h("p", { class: "current" }, `${labels.current}: ${p.current}`));
      return el;
    }
    el.append(dots(p));
    if (p.sentence) {
      el.append(h("p", { class: "ambition" }, [h("span", { class: "level" }, `${p.level}: `),
        h("q", { class: "sentence" }, p.sentence)]));
    } else if (!board.show_status) {
      el.append(h("p", { class: "ambition muted" }, labels.no_ambition));
    }
    if (board.show_status) {
      el.append(h("p", { class: "status" }, p.note ? `${p.status_text}: ${p.note}` : p.status_text));
    }
    if (board.show_goals) el.append(goals(p));
    return el;
  }

  function render() {
    document.documentElement.lang = board.language;
    document.getElementById("title").textContent = board.title;
    document.getElementById("phase").textContent = board.phase_title;
    const progress = document.getElementById("progress");
    progress.hidden = !board.progress;
    progress.textContent = board.progress ? `${board.progress_label}: ${board.progress}` : "";
    document.getElementById("areas").replaceChildren(...board.columns.map((c) =>
      h("section", { class: "area", "data-area": c.area }, [
        h("h2", {}, [h("span", { class: "badge" }, c.area), h("span", { class: "area-name" }, c.name),
          board.progress && c.posters.length ? h("span", { class: "done" }, `${c.done}/${c.posters.length}`) : ""]),
        ...c.posters.map(poster),
      ])));
    document.getElementById("offline").textContent = labels.offline;
    document.body.dataset.phase = board.phase;
    fit();
  }

  // -- fitting the screen: as large as the room can have it, and never a scroll bar --------
  function overflowing() {
    if (document.documentElement.scrollHeight > window.innerHeight + 1) return true;
    return [...document.querySelectorAll(".area")].some((a) => a.scrollHeight > a.clientHeight + 1);
  }

  function fit() {
    const root = document.documentElement;
    if (window.matchMedia("(max-width: 800px)").matches) {
      root.style.fontSize = "";
      return; // a phone: one column, scrolled
    }
    let size = Math.min(window.innerWidth / 60, window.innerHeight / 34);
    root.style.fontSize = `${size}px`;
    while (size > MIN_FONT && overflowing()) {
      size -= 0.5;
      root.style.fontSize = `${size}px`;
    }
  }

  // -- live -----------------------------------------------------------------------------
  function apply(data) {
    board = data;
    labels = data.labels;
    sync = { now: Date.parse(data.now), at: performance.now(), rate: data.rate };
    render();
    tick();
    document.body.dataset.updated = String(Date.now());
  }

  function offline(shown) {
    document.getElementById("offline").hidden = !shown;
  }

  function gone(title, text) {
    if (source) source.close();
    clearTimeout(retry);
    document.body.className = "gone";
    document.body.replaceChildren(h("main", { class: "gone-box", role: "alert" }, [h("h1", {}, title), h("p", {}, text)]));
  }

  function connect() {
    source = new EventSource(`${location.pathname.replace(/\/$/, "")}/events`);
    source.addEventListener("open", () => offline(false));
    source.addEventListener("board", (e) => {
      offline(false);
      apply(JSON.parse(e.data));
    });
    source.addEventListener("gone", (e) => {
      const said = JSON.parse(e.data);
      gone(said.title, said.text);
    });
    source.addEventListener("error", () => {
      offline(true);
      // A network error: the browser reconnects by itself. A refused stream (the server said
      // 404 or 5xx) stays closed: find out whether the board is closed, else try again.
      if (source.readyState === EventSource.CLOSED) check();
    });
  }

  function check() {
    clearTimeout(retry);
    retry = setTimeout(async () => {
      try {
        const answer = await fetch(location.href, { method: "HEAD", cache: "no-store" });
        if (answer.status === 404) return gone(labels.gone_title, labels.gone);
      } catch (e) {
        // the server is away: try the stream again below
      }
      connect();
    }, CHECK_MS);
  }

  document.addEventListener("DOMContentLoaded", () => {
    apply(JSON.parse(document.getElementById("board-data").textContent));
    setInterval(tick, 250);
    window.addEventListener("resize", fit);
    connect();
  });
})();
