// The designer's properties panel, bundled by esbuild (`npm run build`, run by `make setup`) into
// node_modules/.duban/designer-panel.js (+ .css) and served from /vendor/duban/: the bpmn-js
// properties panel packages ship ES modules whose entries must share one copy of preact with
// the panel, so Duban's own group is bundled with them. The page loads bpmn-js's own
// prebuilt modeler and passes window.DubanPanel's modules as additionalModules.
//
// The group 督办属性 edits what Duban's engine reads: the element's name, the user task's
// spiffworkflow:property entries (candidateRole, candidateDepartment, assignee, dueDate: Python
// expressions evaluated on the task's data; formSchema: a JSON Schema, edited in the page's form
// editor) and timer definitions. The spiffworkflow namespace has no moddle descriptor on
// purpose: bpmn-moddle keeps its elements as generic ones ($children, attributes as fields), so
// elements of the namespace the panel does not know (spiffworkflow:calledDecisionId, ...) keep
// round-tripping unchanged. Every edit is one command ("duban.update") so undo/redo work.
import "@bpmn-io/properties-panel/dist/assets/properties-panel.css";
import { BpmnPropertiesPanelModule, BpmnPropertiesProviderModule, useService } from "bpmn-js-properties-panel";
import { SelectEntry, TextFieldEntry, TextAreaEntry, isSelectEntryEdited, isTextFieldEntryEdited,
         isTextAreaEntryEdited } from "@bpmn-io/properties-panel";
import { h } from "@bpmn-io/properties-panel/preact";

const SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core";
// Role names (engine/roles.py) with their Chinese (api/web/labels.py ROLES), given by the page.
const ROLES = () => (window.DubanPanelConfig && window.DubanPanelConfig.roles) || [];
const TIMER_KINDS = [["timeDate", "指定时间"], ["timeDuration", "等待时长"], ["timeCycle", "循环"]];

function bo(element) { return element.businessObject; }
function isType(element, type) { const b = bo(element); return !!b && !!b.$instanceOf && b.$instanceOf(type); }

// -- the spiffworkflow:properties of an element ------------------------------------------------
function propertiesElement(element) {
  const ext = bo(element).extensionElements;
  return ext && (ext.values || []).find(v => v.$type === "spiffworkflow:properties");
}

export function getProperty(element, name) {
  const props = propertiesElement(element);
  const prop = props && (props.$children || []).find(c => c.$type === "spiffworkflow:property" && c.name === name);
  return prop ? (prop.value || "") : "";
}

// -- one undoable command: a list of (object, key, value) changes, reverted in reverse --------
// It reports the element changed only while it is selected: a text entry's debounced value
// lands after the designer has already selected another element, and the panel answers an
// "elements.changed" naming its previous element by showing that one again.
function UpdateHandler(selection) { this._selection = selection; }
UpdateHandler.$inject = ["selection"];
UpdateHandler.prototype.execute = function (context) {
  context.old = context.changes.map(([obj, key]) => [obj, key, obj[key]]);
  context.changes.forEach(([obj, key, value]) => { obj[key] = value; });
  return this._changed(context.element);
};
UpdateHandler.prototype.revert = function (context) {
  context.old.slice().reverse().forEach(([obj, key, value]) => { obj[key] = value; });
  return this._changed(context.element);
};
UpdateHandler.prototype._changed = function (element) {
  return this._selection.isSelected(element) ? [element] : [];
};

function DubanCommands(commandStack) { commandStack.registerHandler("duban.update", UpdateHandler); }
DubanCommands.$inject = ["commandStack"];

// The changes that set (or, for "", remove) a spiffworkflow:property, creating the containers.
function propertyChanges(element, moddle, name, value) {
  const b = bo(element), changes = [];
  let ext = b.extensionElements;
  if (!ext) {
    if (!value) { return changes; }
    ext = moddle.create("bpmn:ExtensionElements", { values: [] });
    ext.$parent = b;
    changes.push([b, "extensionElements", ext]);
  }
  let props = propertiesElement(element);
  if (!props) {
    if (!value) { return changes; }
    props = moddle.createAny("spiffworkflow:properties", SPIFF_NS, {});
    props.$children = [];
    props.$parent = ext;
    changes.push([ext, "values", (ext.values || []).concat([props])]);
  }
  const children = props.$children || [];
  const existing = children.find(c => c.$type === "spiffworkflow:property" && c.name === name);
  if (existing && value) {
    changes.push([existing, "value", value]);
  } else if (existing) {
    changes.push([props, "$children", children.filter(c => c !== existing)]);
  } else if (value) {
    const prop = moddle.createAny("spiffworkflow:property", SPIFF_NS, { name: name, value: value });
    prop.$parent = props;
    changes.push([props, "$children", children.concat([prop])]);
  }
  return changes;
}

export function setProperty(injector, element, name, value) {
  const changes = propertyChanges(element, injector.get("moddle"), name, (value || "").trim() ? value : "");
  if (changes.length) { injector.get("commandStack").execute("duban.update", { element: element, changes: changes }); }
}

// -- timers ------------------------------------------------------------------------------------
function timerDefinition(element) {
  return (bo(element).eventDefinitions || []).find(d => d.$type === "bpmn:TimerEventDefinition");
}
function timerKind(element) {
  const timer = timerDefinition(element);
  const found = TIMER_KINDS.find(([kind]) => timer && timer[kind]);
  return found ? found[0] : "";
}
function setTimer(injector, element, kind, body) {
  const timer = timerDefinition(element), moddle = injector.get("moddle");
  const changes = TIMER_KINDS.filter(([k]) => k !== kind && timer[k]).map(([k]) => [timer, k, undefined]);
  if (kind) {
    const expression = moddle.create("bpmn:FormalExpression", { body: body });
    expression.$parent = timer;
    changes.push([timer, kind, expression]);
  }
  injector.get("commandStack").execute("duban.update", { element: element, changes: changes });
}

// -- entries -----------------------------------------------------------------------------------
function NameEntry(props) {
  const { element, id } = props;
  const modeling = useService("modeling"), debounce = useService("debounceInput");
  const lane = isType(element, "bpmn:Lane");
  return h(TextFieldEntry, {
    element, id, label: "名称", debounce,
    description: lane ? "泳道名称为角色（如 秘书科）或已登记的别名时，其中的任务交给该角色办理" : undefined,
    getValue: () => bo(element).name || "",
    setValue: value => modeling.updateLabel(element, value || undefined)
  });
}

function literalRole(expression) {
  const match = /^\s*(['"])([a-z]+)\1\s*$/.exec(expression || "");
  return match ? match[2] : null;
}

function CandidateRoleEntry(props) {
  const { element, id } = props;
  const injector = useService("injector");
  const current = getProperty(element, "candidateRole");
  return h(SelectEntry, {
    element, id, label: "候选角色",
    description: "由具有该角色的人员认领办理；不选则按泳道确定",
    getValue: () => (current && !literalRole(current) ? current : literalRole(current) || ""),
    setValue: value => setProperty(injector, element, "candidateRole", value && /^[a-z]+$/.test(value) ? `"${value}"` : value),
    getOptions: () => [{ value: "", label: "（不指定）" }]
      .concat(ROLES().map(([value, label]) => ({ value, label })))
      .concat(current && !literalRole(current) ? [{ value: current, label: "（自定义表达式）" }] : [])
  });
}

function expressionEntry(name, label, description) {
  return function ExpressionEntry(props) {
    const { element, id } = props;
    const injector = useService("injector"), debounce = useService("debounceInput");
    return h(TextFieldEntry, {
      element, id, label, description, debounce,
      getValue: () => getProperty(element, name),
      setValue: value => setProperty(injector, element, name, value)
    });
  };
}

function formFieldCount(element) {
  try {
    return Object.keys(JSON.parse(getProperty(element, "formSchema")).properties || {}).length;
  } catch (e) { return null; }
}

function FormSchemaEntry(props) {
  const { element } = props;
  const eventBus = useService("eventBus");
  const count = formFieldCount(element);
  const summary = getProperty(element, "formSchema")
    ? (count === null ? "表单定义无法解析" : `共 ${count} 个字段`) : "尚未定义表单";
  return h("div", { class: "bio-properties-panel-entry duban-form-entry", "data-entry-id": props.id },
    h("div", { class: "bio-properties-panel-label" }, "办理表单"),
    h("span", { class: "duban-form-summary" }, summary), " ",
    h("button", { type: "button", class: "secondary duban-open-form-editor",
                  onClick: () => eventBus.fire("duban.formEditor.open", { element: element }) }, "编辑表单"));
}

function TimerKindEntry(props) {
  const { element, id } = props;
  const injector = useService("injector");
  return h(SelectEntry, {
    element, id, label: "定时类型",
    getValue: () => timerKind(element),
    setValue: value => {
      const old = timerDefinition(element)[timerKind(element)];
      setTimer(injector, element, value, old ? old.body : "");
    },
    getOptions: () => [{ value: "", label: "（未设置）" }].concat(TIMER_KINDS.map(([value, label]) => ({ value, label })))
  });
}

function TimerValueEntry(props) {
  const { element, id } = props;
  const injector = useService("injector"), debounce = useService("debounceInput");
  return h(TextFieldEntry, {
    element, id, label: "定时表达式", debounce,
    description: "标准时间值（如 P2D、2026-12-31T09:00:00+08:00、R/P1W）或流程表达式",
    getValue: () => { const value = timerDefinition(element)[timerKind(element)]; return value ? value.body || "" : ""; },
    setValue: value => setTimer(injector, element, timerKind(element) || "timeDuration", value || "")
  });
}

function entries(element) {
  const list = [{ id: "duban-name", element, component: NameEntry, isEdited: isTextFieldEntryEdited }];
  if (isType(element, "bpmn:UserTask") || isType(element, "bpmn:ManualTask")) {
    list.push(
      { id: "duban-candidateRole", element, component: CandidateRoleEntry, isEdited: isSelectEntryEdited },
      { id: "duban-candidateDepartment", element, isEdited: isTextFieldEntryEdited,
        component: expressionEntry("candidateDepartment", "候选部门", "流程变量名或表达式，求值为承办部门") },
      { id: "duban-assignee", element, isEdited: isTextFieldEntryEdited,
        component: expressionEntry("assignee", "指定办理人", "流程变量名或表达式，求值为办理人") },
      { id: "duban-dueDate", element, isEdited: isTextFieldEntryEdited,
        component: expressionEntry("dueDate", "办理期限", "流程变量名或表达式，求值为日期时间") });
  }
  if (isType(element, "bpmn:UserTask")) {
    list.push({ id: "duban-formSchema", element, component: FormSchemaEntry, isEdited: () => !!getProperty(element, "formSchema") });
  }
  if (timerDefinition(element)) {
    list.push({ id: "duban-timer-kind", element, component: TimerKindEntry, isEdited: isSelectEntryEdited },
              { id: "duban-timer-value", element, component: TimerValueEntry, isEdited: isTextFieldEntryEdited });
  }
  return list;
}

function DubanPropertiesProvider(propertiesPanel) {
  propertiesPanel.registerProvider(400, this);
}
DubanPropertiesProvider.$inject = ["propertiesPanel"];
DubanPropertiesProvider.prototype.getGroups = function (element) {
  return groups => {
    if (!bo(element) || isType(element, "bpmn:Collaboration") && !element.parent) { return groups; }
    return [{ id: "duban", label: "督办属性", entries: entries(element) }].concat(groups);
  };
};

const DubanPropertiesModule = {
  __init__: ["dubanCommands", "dubanPropertiesProvider"],
  dubanCommands: ["type", DubanCommands],
  dubanPropertiesProvider: ["type", DubanPropertiesProvider]
};

window.DubanPanel = {
  modules: [BpmnPropertiesPanelModule, BpmnPropertiesProviderModule, DubanPropertiesModule],
  getProperty: getProperty,
  setProperty: setProperty
};
