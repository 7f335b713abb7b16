"""The department tree on the admin page (issue 16) in a real browser: departments created
under a parent show indented below it, and a department moves with its subdepartments
(fixtures ``people``, ``browser``: tests/conftest.py; screenshot test-artifacts/department-tree.png)."""


def rows(admin):
    """``[(code, depth)]`` of the department table, top to bottom."""
    table = admin.page.locator("#departments tbody tr")
    return [(table.nth(i).get_attribute("data-department"), int(table.nth(i).get_attribute("data-depth")))
            for i in range(table.count())]


def create(admin, code, name, parent):
    admin.page.fill("#code", code)
    admin.page.fill("#name", name)
    admin.page.select_option("#parent", parent)
    admin.page.click("#department-form button")
    admin.page.wait_for_load_state("load")


def test_the_department_tree_is_shown_indented_and_moves_with_its_subtree(server, people):
    admin = people("admin")
    admin.goto("/admin/departments")
    for code, name, parent in (("ca", "甲县", "office"), ("ca1", "甲县发改局", "ca"), ("ca2", "甲县住建局", "ca"),
                               ("cb", "乙县", "office"), ("cb1", "乙县发改局", "cb")):
        create(admin, code, name, parent)
    assert rows(admin) == [("d1", 1), ("d2", 1), ("office", 1), ("ca", 2), ("ca1", 3), ("ca2", 3),
                           ("cb", 2), ("cb1", 3)]
    indent = [admin.page.locator(f"tr[data-department={code}] td.tree-name").evaluate(
        "el => parseFloat(getComputedStyle(el).paddingLeft)") for code in ("office", "ca", "ca1")]
    assert indent[0] < indent[1] < indent[2]  # each level further in
    # A department is never offered as a parent of itself or of its ancestors.
    offered = admin.page.locator("tr[data-department=ca] select[name=parent] option").evaluate_all(
        "options => options.map(o => o.value)")
    assert "ca" not in offered and "ca1" not in offered and "cb1" in offered
    admin.shot("department-tree")

    # 乙县 moves under 甲县: its bureau comes along, one level deeper.
    admin.page.select_option("tr[data-department=cb] select[name=parent]", "ca")
    admin.page.click("tr[data-department=cb] form.rename button")
    admin.page.wait_for_load_state("load")
    assert "已保存部门：乙县" in admin.page.inner_text("body")
    assert rows(admin)[3:] == [("ca", 2), ("ca1", 3), ("ca2", 3), ("cb", 3), ("cb1", 4)]
    # Too deep for the tree: refused with the reason in Chinese, nothing moved.
    create(admin, "cb11", "乙县发改局一科", "cb1")
    admin.page.select_option("tr[data-department=cb] select[name=parent]", "ca2")
    admin.page.click("tr[data-department=cb] form.rename button")
    admin.page.wait_for_load_state("load")
    assert "部门层级过多" in admin.page.inner_text("body")
    assert ("cb", 3) in rows(admin) and ("cb11", 5) in rows(admin)
    admin.shot("department-tree-moved")


def test_a_county_secretariat_registers_for_its_own_subtree_and_lists_only_it(server, people):
    from tests.test_department_tree import build_tree, _county_items

    build_tree(server)
    a, b = _county_items(server)
    seca = people("seca")
    seca.goto("/items/new")
    offered = seca.page.locator("select[name=department] option").evaluate_all(
        "options => options.map(o => o.value).filter(v => v)")
    assert offered == ["ca", "ca1"]
    seca.goto("/items")
    listed = seca.page.inner_text("main")
    assert a["code"] in listed and b["code"] not in listed
    seca.shot("county-items")
    assert seca.goto(f"/items/{b['id']}").status == 403
    # the browser logs the 403 status itself; nothing else may be logged
    assert [e for e in seca.errors if "status of 403" not in e] == []
    seca.errors.clear()
