// The designer's modeler page: bpmn-js Modeler (BPMN) or dmn-js Modeler (DMN), deploy and download.
// Deploying POSTs the XML with the session cookie and the page's CSRF token; an engine refusal
// that names an element marks it on the canvas.
(function () {
  "use strict";
  var container = document.getElementById("canvas");
  var status = document.getElementById("status");
  if (!container) { return; }
  var isDmn = container.classList.contains("dmn");
  var csrfToken = document.querySelector("meta[name=csrf-token]").content;

  // Chinese for the modeler's palette and context pad (template strings of bpmn-js).
  var ZH = {
    "Activate hand tool": "平移画布", "Activate lasso tool": "框选", "Activate create/remove space tool": "插入/删除空白",
    "Activate global connect tool": "连线", "Create start event": "开始事件", "Create intermediate/boundary event": "中间/边界事件",
    "Create end event": "结束事件", "Create gateway": "网关", "Create task": "任务", "Create data object reference": "数据对象",
    "Create data store reference": "数据存储", "Create expanded sub-process": "子流程", "Create pool/participant": "泳池/参与者",
    "Create group": "分组", "Append end event": "追加结束事件", "Append gateway": "追加网关", "Append task": "追加任务",
    "Append intermediate/boundary event": "追加中间事件", "Append text annotation": "追加注释", "Add text annotation": "添加注释",
    "Change element": "更改类型", "Change type": "更改类型", "Delete": "删除", "Remove": "删除",
    "Connect using sequence/message flow or association": "连线", "Connect using association": "关联",
    "Connect to other element": "连接到其他元素", "Append element": "追加元素", "Create element": "创建元素",
    "Add lane above": "在上方添加泳道", "Add lane below": "在下方添加泳道", "Divide into two lanes": "拆分为两条泳道",
    "Divide into three lanes": "拆分为三条泳道", "Search in diagram": "在图中搜索",
    // dmn-js decision tables
    "When": "条件", "Then": "结果", "And": "且", "Hit policy:": "命中策略：", "Annotations": "备注",
    "View DRD": "查看决策需求图", "Add rule": "添加规则"
  };
  function translate(template, replacements) {
    replacements = replacements || {};
    return (ZH[template] || template).replace(/{([^}]+)}/g, function (_, key) {
      return replacements[key] !== undefined ? replacements[key] : "{" + key + "}";
    });
  }

  var modeler = isDmn
    ? new window.DmnJS({ container: container, common: { additionalModules: [{ translate: ["value", translate] }] } })
    : new window.BpmnJS({ container: container, additionalModules: [{ translate: ["value", translate] }] });
  window.dubanModeler = modeler;  // for tests and the browser console
  var marked = null;

  function say(text, ok) {
    status.textContent = text;
    status.className = "status-line " + (ok ? "ok" : "bad");
  }

  function openDecisionTable() {
    var views = modeler.getViews();
    var table = views.filter(function (v) { return v.type === "decisionTable"; })[0];
    if (table) { return modeler.open(table); }
  }

  fetch(container.dataset.xmlUrl, { credentials: "same-origin" })
    .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.text(); })
    .then(function (xml) { return modeler.importXML(xml); })
    .then(function () {
      if (isDmn) { return openDecisionTable(); }
      modeler.get("canvas").zoom("fit-viewport");
    })
    .then(function () { container.dataset.ready = "true"; })
    .catch(function (err) { say("加载失败：" + err.message, false); container.dataset.ready = "error"; });

  function clearMark() {
    if (marked && !isDmn) {
      try { modeler.get("canvas").removeMarker(marked, "deploy-error"); } catch (e) { /* element gone */ }
    }
    marked = null;
  }

  function markElement(id) {
    if (isDmn || !id) { return false; }
    var element = modeler.get("elementRegistry").get(id);
    if (!element) { return false; }
    var canvas = modeler.get("canvas");
    canvas.addMarker(id, "deploy-error");
    modeler.get("selection").select(element);
    if (canvas.scrollToElement) { canvas.scrollToElement(element); }
    marked = id;
    return true;
  }

  document.getElementById("deploy").addEventListener("click", function () {
    var button = this;
    // Deploying cannot be taken back: the button's data-confirm names what it changes.
    if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) { return; }
    button.disabled = true;
    clearMark();
    status.title = "";
    say("正在部署……", true);
    modeler.saveXML({ format: true })
      .then(function (result) {
        return fetch(container.dataset.deployUrl, {
          method: "POST", credentials: "same-origin", body: result.xml,
          headers: { "Content-Type": "application/xml", "X-CSRFToken": csrfToken, "Accept": "application/json" }
        });
      })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json().then(function (body) { return { ok: body.deployed === true, body: body }; });
      })
      .then(function (answer) {
        var body = answer.body;
        if (answer.ok) {
          say((body.created ? "已部署：" : "内容未变化，仍为：") + body.key + " 版本 " + body.version, true);
          var link = document.createElement("a");
          link.href = body.url; link.textContent = " 查看全部版本";
          status.appendChild(link);
          container.dataset.deployed = body.version;
          return;
        }
        var error = body.error || {};
        var details = error.details || {};
        var where = [];
        if (details.element) { where.push("元素 " + details.element); }
        if (details.line) { where.push("第 " + details.line + " 行"); }
        var marked = markElement(details.element);
        status.title = error.technical || "";
        say("部署失败" + (where.length ? "（" + where.join("，") + (marked ? "，已在图中标出" : "") + "）" : "") + "：" + (error.message || "未知错误"), false);
      })
      .catch(function (err) { say("部署失败：" + err.message, false); })
      .then(function () { button.disabled = false; });
  });

  document.getElementById("download").addEventListener("click", function () {
    modeler.saveXML({ format: true }).then(function (result) {
      var link = document.createElement("a");
      link.href = URL.createObjectURL(new Blob([result.xml], { type: "application/xml" }));
      link.download = container.dataset.name + (isDmn ? ".dmn" : ".bpmn");
      document.body.appendChild(link); link.click(); link.remove();
    });
  });
})();
