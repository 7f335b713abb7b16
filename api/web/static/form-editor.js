// The designer's form editor: a user task's formSchema (JSON Schema) as a list of fields
// (key, 标题, type, required, options) with a live preview rendered by the server as the task
// page renders it (POST /designer/form-preview). Aspects of a field or of the whole schema the
// list does not show (minLength, if/then, nested rows, ...) are kept as they were as long as
// the field keeps its type: editing a title never loses a rule.
(function () {
  "use strict";
  var dialog = document.getElementById("form-editor");
  if (!dialog) { return; }
  var body = document.getElementById("form-fields");
  var rowTemplate = document.getElementById("form-field-row");
  var titleInput = document.getElementById("form-title");
  var errorLine = document.getElementById("form-error");
  var preview = document.getElementById("form-preview");
  var KEY = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
  var state = null;  // {base: the schema opened, originals: {key: subschema}, onSave, url, csrf}
  var timer = null, sequence = 0;

  function typeOf(sub) {
    if (!sub || typeof sub !== "object") { return "text"; }
    var type = Array.isArray(sub.type) ? sub.type.filter(function (t) { return t !== "null"; })[0] : sub.type;
    if (sub["enum"]) { return "select"; }
    if (type === "array") { return "list"; }
    if (type === "boolean") { return "boolean"; }
    if (type === "integer" || type === "number") { return "number"; }
    if (type === "string" && sub.format === "date") { return "date"; }
    return "text";
  }

  function options(text) {
    return text.split(/[,，、]/).map(function (s) { return s.trim(); }).filter(Boolean);
  }

  function addRow(field) {
    var row = rowTemplate.content.firstElementChild.cloneNode(true);
    row.querySelector(".f-key").value = field.key || "";
    row.querySelector(".f-title").value = field.title || "";
    row.querySelector(".f-type").value = field.type || "text";
    row.querySelector(".f-required").checked = !!field.required;
    row.querySelector(".f-options").value = field.options || "";
    row.dataset.original = field.original || "";
    body.appendChild(row);
    showOptions(row);
    return row;
  }

  function showOptions(row) {
    row.querySelector(".f-options").disabled = row.querySelector(".f-type").value !== "select";
  }

  function rows() { return Array.prototype.slice.call(body.querySelectorAll("tr")); }

  // The schema the list describes, or {error: 中文} when a field is incomplete.
  function build() {
    var schema = JSON.parse(JSON.stringify(state.base));
    var properties = {}, required = [], seen = {};
    var list = rows();
    for (var i = 0; i < list.length; i++) {
      var row = list[i], n = "第 " + (i + 1) + " 个字段";
      var key = row.querySelector(".f-key").value.trim(), title = row.querySelector(".f-title").value.trim();
      var type = row.querySelector(".f-type").value, opts = options(row.querySelector(".f-options").value);
      if (!KEY.test(key)) { return { error: n + "：字段键只能使用字母、数字和下划线，且不能以数字开头" }; }
      if (seen[key]) { return { error: n + "：字段键与前面的字段重复" }; }
      if (!title) { return { error: n + "：请填写标题" }; }
      if (type === "select" && !opts.length) { return { error: n + "：选择题请填写选项" }; }
      seen[key] = true;
      var original = row.dataset.original ? JSON.parse(row.dataset.original) : null;
      var sub = original && typeOf(original) === type ? original : fresh(type);
      sub.title = title;
      if (type === "select") { sub["enum"] = opts; delete sub.enumNames; }
      properties[key] = sub;
      if (row.querySelector(".f-required").checked) { required.push(key); }
    }
    schema.type = "object";
    schema.title = titleInput.value.trim() || undefined;
    schema.properties = properties;
    schema.required = required;
    return { schema: schema };
  }

  function fresh(type) {
    return {
      text: { type: "string" }, number: { type: "number" }, boolean: { type: "boolean" },
      date: { type: "string", format: "date" }, select: { type: "string" },
      list: { type: "array", items: { type: "string" } }
    }[type];
  }

  function say(text) {
    errorLine.textContent = text || "";
    errorLine.hidden = !text;
  }

  function refresh() {
    clearTimeout(timer);
    timer = setTimeout(render, 250);
  }

  function render() {
    var built = build();
    if (built.error) { say(built.error); dialog.dataset.valid = "false"; return Promise.resolve(); }
    var mine = ++sequence;
    return fetch(state.url, {
      method: "POST", credentials: "same-origin", body: JSON.stringify({ schema: JSON.stringify(built.schema) }),
      headers: { "Content-Type": "application/json", "X-CSRFToken": state.csrf, "Accept": "application/json" }
    }).then(function (r) {
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r.json();
    }).then(function (answer) {
      if (mine !== sequence) { return; }  // a later edit's preview is on its way
      if (answer.rendered) {
        preview.innerHTML = answer.html;
        say("");
        dialog.dataset.valid = "true";
      } else {
        say((answer.error && answer.error.message) || "表单定义有误");
        dialog.dataset.valid = "false";
      }
      dialog.dataset.previewed = String(mine);
    }).catch(function (err) { say("预览失败：" + err.message); });
  }

  body.addEventListener("input", refresh);
  body.addEventListener("change", function (event) {
    if (event.target.classList.contains("f-type")) { showOptions(event.target.closest("tr")); }
    refresh();
  });
  body.addEventListener("click", function (event) {
    var row = event.target.closest("tr");
    if (!row) { return; }
    if (event.target.classList.contains("f-remove")) { row.remove(); }
    else if (event.target.classList.contains("f-up") && row.previousElementSibling) { body.insertBefore(row, row.previousElementSibling); }
    else if (event.target.classList.contains("f-down") && row.nextElementSibling) { body.insertBefore(row.nextElementSibling, row); }
    else { return; }
    refresh();
  });
  titleInput.addEventListener("input", refresh);
  document.getElementById("form-add-field").addEventListener("click", function () {
    var row = addRow({ key: "field" + (rows().length + 1), title: "", type: "text" });
    row.querySelector(".f-title").focus();
    refresh();
  });
  document.getElementById("form-cancel").addEventListener("click", function () { dialog.close(); });
  document.getElementById("form-save").addEventListener("click", function () {
    var built = build();
    if (built.error) { say(built.error); return; }
    render().then(function () {
      if (dialog.dataset.valid !== "true") { return; }
      state.onSave(JSON.stringify(built.schema));
      dialog.close();
    });
  });

  // Opens the editor on a formSchema text ("" for none); onSave(text) receives the new schema.
  function open(text, onSave, url, csrf) {
    var schema = null, broken = false;
    try { schema = text ? JSON.parse(text) : null; } catch (e) { broken = true; }
    if (!schema || typeof schema !== "object" || Array.isArray(schema)) {
      broken = broken || !!schema;
      schema = { "$schema": "https://json-schema.org/draft/2020-12/schema", type: "object", additionalProperties: false };
    }
    state = { base: schema, onSave: onSave, url: url, csrf: csrf };
    body.innerHTML = "";
    titleInput.value = schema.title || "";
    var required = schema.required || [];
    Object.keys(schema.properties || {}).forEach(function (key) {
      var sub = schema.properties[key];
      addRow({ key: key, title: sub.title || "", type: typeOf(sub), required: required.indexOf(key) >= 0,
               options: (sub["enum"] || []).join("，"), original: JSON.stringify(sub) });
    });
    say(broken ? "原表单定义无法解析，已从空表单开始；保存后将替换原定义" : "");
    dialog.showModal();
    render();
  }

  window.DubanFormEditor = { open: open };
})();
