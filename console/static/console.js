// hookd console: small conveniences on top of pages that work without
// JavaScript. No framework, no build step.
(function () {
  "use strict";
  // Copy buttons: shown only where the clipboard can be used.
  document.querySelectorAll("button.copy").forEach(function (btn) {
    if (!navigator.clipboard) return;
    btn.hidden = false;
    btn.addEventListener("click", function () {
      var el = document.getElementById(btn.dataset.copy);
      navigator.clipboard.writeText(el.textContent.trim()).then(function () {
        btn.textContent = "Copied";
        setTimeout(function () { btn.textContent = "Copy"; }, 1500);
      });
    });
  });
  // "Add header" / "Add metadata": clone the last row, emptied.
  document.querySelectorAll(".rows").forEach(function (box) {
    var add = box.querySelector("button.add-row");
    if (!add) return;
    add.hidden = false;
    add.addEventListener("click", function () {
      var rows = box.querySelectorAll(".row");
      var last = rows[rows.length - 1];
      var row = last.cloneNode(true);
      var n = rows.length;
      row.querySelectorAll("input").forEach(function (input) {
        input.value = "";
        input.id = input.id.replace(/-\d+$/, "-" + n);
      });
      row.querySelectorAll("label").forEach(function (label) {
        label.htmlFor = label.htmlFor.replace(/-\d+$/, "-" + n);
        label.textContent = label.textContent.replace(/\d+$/, n);
      });
      last.after(row);
      row.querySelector("input").focus();
    });
  });
  // On a phone the sidebar is a scrolling row: bring the current page's
  // item into view.
  var current = document.querySelector('.side a[aria-current="page"]');
  if (current && current.scrollIntoView) current.scrollIntoView({ block: "nearest", inline: "center" });
  // The test form: choosing a type puts its first example in the data.
  var testType = document.getElementById("test-type");
  var testData = document.getElementById("test-data");
  if (testType && testData) {
    testType.addEventListener("change", function () {
      testData.value = testType.selectedOptions[0].dataset.example || "";
    });
  }
  // Tables: each cell learns its column's name, which a phone's stacked
  // rows show before it.
  function labelTables(root) {
    root.querySelectorAll("table.list").forEach(function (table) {
      var heads = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) { return th.textContent.trim(); });
      table.querySelectorAll("tbody tr").forEach(function (tr) {
        Array.prototype.forEach.call(tr.children, function (td, i) {
          if (!td.dataset.label && heads[i]) td.dataset.label = heads[i];
        });
      });
    });
  }
  // Times: the server writes UTC; shown here in the viewer's own zone with
  // how long ago (or how soon), the exact UTC kept in the title.
  var rel = window.Intl && Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat(undefined, { numeric: "auto" }) : null;
  var fmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
  var units = [["year", 31536000], ["month", 2592000], ["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];
  function showTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      var at = new Date(el.getAttribute("datetime"));
      if (isNaN(at)) return;
      var text = fmt.format(at);
      if (rel) {
        var secs = (at.getTime() - Date.now()) / 1000;
        for (var i = 0; i < units.length; i++) {
          if (Math.abs(secs) >= units[i][1] || units[i][0] === "second") {
            text += " (" + rel.format(Math.round(secs / units[i][1]), units[i][0]) + ")";
            break;
          }
        }
      }
      el.textContent = text;
    });
  }
  // (Each live part's copy as the server sent it, before it is dressed.)
  var live = Array.prototype.map.call(document.querySelectorAll("[data-live][id]"), function (part) { return [part, part.innerHTML]; });
  labelTables(document);
  showTimes(document);
  // Live parts (the newest deliveries, a delivery still waiting): the page
  // is fetched again every few seconds while it is in view, and the part
  // replaced when the server's copy changed. Never while the reader is in
  // it (focus, a selection), never past a page that no longer has it (a
  // session that ended answers the login page), and no longer once the
  // server's copy is not live (a delivery that finished).
  live.forEach(function (pair) {
    var part = pair[0], last = pair[1];
    var every = 1000 * (Number(part.dataset.live) || 5);
    var timer = setInterval(function () {
      if (document.hidden) return;
      var sel = window.getSelection && window.getSelection();
      var focused = document.activeElement === part;
      if ((!focused && part.contains(document.activeElement)) || (sel && !sel.isCollapsed && part.contains(sel.anchorNode))) return;
      fetch(location.href, { credentials: "same-origin", headers: { "Accept": "text/html" }, cache: "no-store" }).then(function (res) {
        if (!res.ok || res.redirected) throw new Error("HTTP " + res.status);
        return res.text();
      }).then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById(part.id);
        if (!fresh) throw new Error("gone");
        if (!fresh.hasAttribute("data-live")) clearInterval(timer);
        if (fresh.innerHTML === last) return;
        last = fresh.innerHTML;
        fresh = document.importNode(fresh, true);
        labelTables(fresh);
        showTimes(fresh);
        part.replaceWith(fresh);
        part = fresh;
        if (focused) part.focus({ preventScroll: true });
      }).catch(function () { clearInterval(timer); });
    }, every);
  });
})();
