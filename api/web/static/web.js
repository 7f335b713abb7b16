// Small progressive enhancements; every page works without them.
(function () {
  "use strict";
  // Below 700 px the navigation folds behind a menu button (web.css); without this script it
  // stays unfolded, wrapping.
  var topbar = document.querySelector(".topbar");
  var menu = topbar && topbar.querySelector(".menu-button");
  if (menu) {
    topbar.classList.add("foldable");
    menu.addEventListener("click", function () {
      var open = topbar.classList.toggle("open");
      menu.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }
  // Rows of an array-of-objects field (e.g. milestones): add and remove without a round trip.
  function renumber(fieldset) {
    fieldset.querySelectorAll(".rows-body > [data-row]").forEach(function (row, i) {
      row.querySelectorAll("[name]").forEach(function (el) {
        el.name = el.name.replace(/\.(\d+|__index__)\./, "." + i + ".");
        if (el.id) { el.id = el.id.replace(/\.(\d+|__index__)\./, "." + i + "."); }
      });
      row.querySelectorAll("label[for]").forEach(function (el) {
        el.htmlFor = el.htmlFor.replace(/\.(\d+|__index__)\./, "." + i + ".");
      });
    });
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[name=_action]");
    if (!button) { return; }
    var fieldset = button.closest("[data-rows]");
    if (!fieldset) { return; }
    event.preventDefault();
    var body = fieldset.querySelector(".rows-body");
    if (button.classList.contains("add-row")) {
      var template = fieldset.querySelector("template");
      body.appendChild(template.content.cloneNode(true));
      renumber(fieldset);
      var rows = body.querySelectorAll("[data-row]");
      var first = rows[rows.length - 1].querySelector("input, select, textarea");
      if (first) { first.focus(); }
    } else if (button.classList.contains("remove-row")) {
      button.closest("[data-row]").remove();
      if (!body.querySelector("[data-row]")) {
        body.appendChild(fieldset.querySelector("template").content.cloneNode(true));
      }
      renumber(fieldset);
    }
  });
  // What cannot be undone is confirmed first, in words naming the consequence: a form's
  // data-confirm (with data-confirm-when="name=value": only when that field has that value), a
  // checked choice's or selected option's data-confirm, the clicked button's data-confirm.
  // Dismissing any of them submits nothing. A submitted form disables its buttons (no double submit).
  function fieldIs(form, when) {
    var at = when.indexOf("=");
    return new FormData(form).getAll(when.slice(0, at)).indexOf(when.slice(at + 1)) >= 0;
  }
  function confirmations(form, submitter) {
    var asks = [];
    if (submitter && submitter.hasAttribute("data-no-confirm")) { return asks; }  // 暂存 decides nothing
    if (form.dataset.confirm && (!form.dataset.confirmWhen || fieldIs(form, form.dataset.confirmWhen))) {
      asks.push(form.dataset.confirm);
    }
    form.querySelectorAll("input:checked[data-confirm], option:checked[data-confirm]").forEach(function (el) {
      asks.push(el.dataset.confirm);
    });
    if (submitter && submitter.dataset.confirm) { asks.push(submitter.dataset.confirm); }
    return asks;
  }
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var refused = confirmations(form, event.submitter).some(function (ask) { return !window.confirm(ask); });
    if (refused) { event.preventDefault(); return; }
    window.setTimeout(function () {
      form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
    }, 0);
  });
  // Filter selects submit their form on change.
  document.querySelectorAll("form[data-autosubmit] select").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
  // Forms whose fields depend on a chosen action (the escalation desk, complaint triage): show the
  // fields of the checked action only. Without JavaScript every field shows, with its hint.
  document.querySelectorAll("form[data-action-form]").forEach(function (form) {
    function sync() {
      var checked = form.querySelector("input[name=action]:checked");
      var value = checked ? checked.value : "";
      form.querySelectorAll("[data-when]").forEach(function (el) {
        el.hidden = el.dataset.when.split(" ").indexOf(value) < 0;
      });
    }
    form.addEventListener("change", sync);
    sync();
  });
  // Print buttons (打印版通报).
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-print]")) { window.print(); }
  });
})();
