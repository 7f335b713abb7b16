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
  // Evidence files (佐证材料): each chosen file is uploaded at once (XHR, for its progress
  // events), and its id kept in a hidden input named like the field; 移除 drops the id only.
  var csrfMeta = document.querySelector("meta[name=csrf-token]");
  function fileSize(size) {
    if (size < 1024) { return size + " 字节"; }
    if (size < 1024 * 1024) { return (size / 1024).toFixed(1) + " KB"; }
    return (size / 1024 / 1024).toFixed(1) + " MB";
  }
  function addFile(box, file) {
    var item = document.createElement("li");
    item.setAttribute("data-file-id", file.id);
    var hidden = document.createElement("input");
    hidden.type = "hidden"; hidden.name = box.getAttribute("data-files"); hidden.value = file.id;
    var name = document.createElement("span");
    name.className = "file-name"; name.textContent = file.name;
    var size = document.createElement("span");
    size.className = "muted"; size.textContent = " " + fileSize(file.size) + " ";
    var remove = document.createElement("button");
    remove.type = "button"; remove.className = "secondary remove-file"; remove.textContent = "移除";
    item.append(hidden, name, size, remove);
    box.querySelector(".file-list").appendChild(item);
  }
  function uploadNext(box, queue) {
    var file = queue.shift();
    var progress = box.querySelector(".upload-progress");
    var bar = progress.querySelector("progress"), status = progress.querySelector(".upload-status");
    if (!file) { return; }
    progress.hidden = false; bar.value = 0;
    status.textContent = "正在上传：" + file.name;
    var data = new FormData();
    data.append("file", file, file.name);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", box.getAttribute("data-upload-url"));
    if (csrfMeta) { xhr.setRequestHeader("X-CSRFToken", csrfMeta.content); }
    xhr.upload.addEventListener("progress", function (event) {
      if (event.lengthComputable) { bar.value = Math.round(100 * event.loaded / event.total); }
    });
    xhr.addEventListener("load", function () {
      var body = null;
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
      if (xhr.status === 201 && body) {
        bar.value = 100;
        status.textContent = "已上传：" + body.name;
        addFile(box, body);
      } else {
        status.textContent = file.name + " 未能上传：" + (body && body.error ? body.error.text :
          (xhr.status === 413 ? "文件过大，超出上传大小上限" : "请稍后重试"));
        box.classList.add("invalid");
      }
      uploadNext(box, queue);
    });
    xhr.addEventListener("error", function () {
      status.textContent = file.name + " 未能上传：网络错误，请重试";
      uploadNext(box, queue);
    });
    xhr.send(data);
  }
  document.querySelectorAll("[data-files]").forEach(function (box) {
    var input = box.querySelector("[data-file-input]");
    input.addEventListener("change", function () {
      box.classList.remove("invalid");
      uploadNext(box, Array.prototype.slice.call(input.files));
      input.value = "";
    });
    box.addEventListener("click", function (event) {
      var button = event.target.closest(".remove-file");
      if (button) { button.closest("li").remove(); }
    });
  });
})();
