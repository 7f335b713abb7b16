// The designer's modeler page: bpmn-js Modeler (BPMN) or dmn-js Modeler (DMN), deploy and download.
// Deploying POSTs the XML with the session cookie and the page's CSRF token; the header then
// shows the version deployed; an engine refusal that names an element marks it on the canvas
// with its Chinese words beside it. A BPMN diagram gets the properties panel (window.DubanPanel,
// api/web/static_src/designer-panel.js) and its form editor (form-editor.js).
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
    "View DRD": "查看决策需求图", "Add rule": "添加规则",
    // the properties panel's own groups (bpmn-js-properties-panel)
    "General": "常规", "Name": "名称", "ID": "编号", "Documentation": "说明", "Element documentation": "元素说明",
    "Process documentation": "流程说明", "Version tag": "版本标记", "Executable": "可执行", "Process": "流程",
    "Process ID": "流程编号", "Process name": "流程名称", "Select an element to edit its properties.": "选中元素以编辑其属性。",
    "Multiple elements are selected. Select a single one to edit its properties.": "已选中多个元素，请只选一个以编辑其属性。",
    "Timer": "定时", "Type": "类型", "Value": "值", "Multi-instance": "多实例", "Message": "消息", "Signal": "信号",
    "Error": "错误", "Escalation": "上报", "Link": "链接", "Condition": "条件", "Compensation": "补偿",
    "Loop cardinality": "循环次数", "Completion condition": "完成条件", "Global message reference": "消息",
    "Global signal reference": "信号", "Create new ...": "新建……", "<none>": "（无）",
    "Must not be empty.": "不能为空。", "ID must be unique.": "编号不能重复。",
    "ID must not contain spaces.": "编号不能含空格。", "ID must not contain prefix.": "编号不能含前缀。",
    "ID must be a valid QName.": "编号须以字母开头，只含字母、数字和下划线。",
    // the panel's header names the element's type
    "Start Event": "开始事件", "End Event": "结束事件", "Timer Start Event": "定时开始事件",
    "Message Start Event": "消息开始事件", "Signal Start Event": "信号开始事件",
    "Intermediate Throw Event": "中间抛出事件", "Intermediate Catch Event": "中间捕获事件",
    "Timer Intermediate Catch Event": "定时中间事件", "Message Intermediate Catch Event": "消息中间事件",
    "Signal Intermediate Catch Event": "信号中间事件", "Message Intermediate Throw Event": "消息抛出事件",
    "Timer Boundary Event": "定时边界事件", "Timer Boundary Event (Non Interrupting)": "定时边界事件（非中断）",
    "Message Boundary Event": "消息边界事件", "Message Boundary Event (Non Interrupting)": "消息边界事件（非中断）",
    "Error Boundary Event": "错误边界事件", "Escalation Boundary Event": "上报边界事件",
    "Escalation Boundary Event (Non Interrupting)": "上报边界事件（非中断）", "Signal Boundary Event": "信号边界事件",
    "Message End Event": "消息结束事件", "Error End Event": "错误结束事件", "Terminate End Event": "终止结束事件",
    "Escalation End Event": "上报结束事件", "Signal End Event": "信号结束事件",
    "Task": "任务", "User Task": "用户任务", "Manual Task": "手工任务", "Script Task": "脚本任务",
    "Service Task": "服务任务", "Business Rule Task": "业务规则任务", "Send Task": "发送任务", "Receive Task": "接收任务",
    "Call Activity": "调用活动", "Expanded Sub Process": "子流程", "Collapsed Sub Process": "子流程（折叠）",
    "Event Sub Process": "事件子流程", "Transaction": "事务子流程", "Exclusive Gateway": "排他网关",
    "Parallel Gateway": "并行网关", "Inclusive Gateway": "包容网关", "Event Based Gateway": "事件网关",
    "Complex Gateway": "复杂网关", "Sequence Flow": "顺序流", "Conditional Flow": "条件流", "Default Flow": "默认流",
    "Message Flow": "消息流", "Lane": "泳道", "Participant": "参与者", "Collaboration": "协作",
    "Text Annotation": "注释", "Association": "关联", "Group": "分组", "Data Object Reference": "数据对象",
    "Data Store Reference": "数据存储"
  };
  function translate(template, replacements) {
    replacements = replacements || {};
    return (ZH[template] || template).replace(/{([^}]+)}/g, function (_, key) {
      return replacements[key] !== undefined ? replacements[key] : "{" + key + "}";
    });
  }

  var translateModule = { translate: ["value", translate] };
  var panel = !isDmn && window.DubanPanel && document.getElementById("properties");
  if (panel) { window.DubanPanelConfig = JSON.parse(document.getElementById("panel-config").textContent); }
  var modeler = isDmn
    ? new window.DmnJS({ container: container, common: { additionalModules: [translateModule] } })
    : new window.BpmnJS({
      container: container,
      additionalModules: [translateModule].concat(panel ? window.DubanPanel.modules : []),
      propertiesPanel: panel ? { parent: panel, layout: { groups: { duban: { open: true } } } } : undefined
    });
  window.dubanModeler = modeler;  // for tests and the browser console
  var marked = null, note = null;

  if (panel && window.DubanFormEditor) {
    modeler.get("eventBus").on("duban.formEditor.open", function (event) {
      var element = event.element;
      window.DubanFormEditor.open(window.DubanPanel.getProperty(element, "formSchema"), function (text) {
        window.DubanPanel.setProperty(modeler.get("injector"), element, "formSchema", text);
      }, container.dataset.previewUrl, csrfToken);
    });
  }

  // An element as the designer named it (「备案」), its id only when it has no name.
  function elementName(id) {
    var element = modeler.get && modeler.get("elementRegistry") && modeler.get("elementRegistry").get(id);
    var name = element && element.businessObject && element.businessObject.name;
    return name ? "「" + name + "」" : " " + id;
  }

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
      if (note !== null) { modeler.get("overlays").remove(note); }
    }
    marked = null; note = null;
  }

  // The refused element: a red frame, and the refusal's Chinese words pinned below it.
  function markElement(id, message) {
    if (isDmn || !id) { return false; }
    var element = modeler.get("elementRegistry").get(id);
    if (!element) { return false; }
    var canvas = modeler.get("canvas");
    canvas.addMarker(id, "deploy-error");
    var html = document.createElement("div");
    html.className = "deploy-error-note";
    html.setAttribute("role", "alert");
    html.textContent = message;
    note = modeler.get("overlays").add(id, "deploy-error", {
      position: element.waypoints ? { top: 0, left: 0 } : { top: element.height + 4, left: 0 }, html: html,
      scale: { min: 1 }  // readable however far the diagram is zoomed out
    });
    modeler.get("selection").select(element);  // the properties panel shows it
    modeler.get("contextPad").close();  // it would cover the words
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
          say((body.created ? "已部署：" : "内容未变化，仍为：") + body.name + " 版本 " + body.version, true);
          var link = document.createElement("a");
          link.href = body.url; link.textContent = " 查看全部版本";
          status.appendChild(link);
          showDeployed(body);
          container.dataset.deployed = body.version;
          return;
        }
        var error = body.error || {};
        var details = error.details || {};
        var where = [];
        if (details.element) { where.push("元素" + elementName(details.element)); }
        if (details.line) { where.push("第 " + details.line + " 行"); }
        var marked = markElement(details.element, error.message || "部署失败");
        status.title = error.technical || "";
        say("部署失败" + (where.length ? "（" + where.join("，") + (marked ? "，已在图中标出" : "") + "）" : "") + "：" + (error.message || "未知错误"), false);
      })
      .catch(function (err) { say("部署失败：" + err.message, false); })
      .then(function () { button.disabled = false; });
  });

  // The header names the version the page now edits: 流程「督查督办」第 2 版 已部署.
  function showDeployed(body) {
    var badge = document.getElementById("deployed-version");
    if (badge) {
      badge.textContent = "流程「" + body.name + "」第 " + body.version + " 版 " + (body.created ? "已部署" : "（内容未变化）");
      badge.hidden = false;
    }
    var editing = document.getElementById("editing-version");
    if (editing) { editing.textContent = "版本 " + body.version; }
    if (body.edit_url && window.history.replaceState) { window.history.replaceState(null, "", body.edit_url); }
  }

  document.getElementById("download").addEventListener("click", function () {
    modeler.saveXML({ format: true }).then(function (result) {
      var link = document.createElement("a");
      link.href = URL.createObjectURL(new Blob([result.xml], { type: "application/xml" }));
      link.download = container.dataset.name + (isDmn ? ".dmn" : ".bpmn");
      document.body.appendChild(link); link.click(); link.remove();
    });
  });
})();
