"""Every sentence a user reads, in one place so the wording stays consistent and reviewable.

Each entry maps a stable problem code to a Chinese template; `say(code, **values)` renders it.
Tests assert on codes, never on wording.
"""

from __future__ import annotations

MESSAGES: dict[str, str] = {
    # --- the file as a whole -------------------------------------------------------------
    "file.unsupported": "不支持的文件类型“{ext}”。可以提交的文件：.xlsx、.xlsm、.xls、.csv；请用 Excel 另存为其中一种后重新提交",
    "file.unreadable": "文件无法打开（{detail}）。请确认文件完整、未加密，用 Excel 另存为 .xlsx 后重新提交",
    "file.encrypted": "文件已加密，请取消密码后重新提交",
    "file.too_large": "文件有 {size} MB，超过上限 {limit} MB。请拆分名单后分别提交",
    "file.zip_bomb": "文件解压后过大或压缩比异常（{detail}），可能已损坏或带有恶意内容，未处理。请用 Excel 重新另存为 .xlsx 后提交",
    "file.grid_too_large": "工作表“{table}”的范围过大（到 {ref}，约 {cells} 个单元格）。请删除表格右方和下方多余的行列后另存，再提交",
    "file.parse_limit": "读取文件超出了{what}限制，未处理。文件可能已损坏或过于庞大；请用 Excel 打开后另存为 .xlsx，去掉多余的行列再提交",
    "file.xml": "文件中的 XML 内容不合规（{detail}），未处理。请用 Excel 打开后另存为 .xlsx 再提交",
    "file.empty": "文件是空的（0 字节）。请重新复制完整的文件",
    "file.csv_cut": "CSV 文件的最后一行（第 {row} 行）没有换行结尾，而且比上面的行少了几列（或断在一个字的中间）：文件可能没有复制或保存完整，最后一行被截断，后面的人可能没有复制过来，未处理。请用 Excel 打开核对名单是否完整，重新保存（或重新导出、复制）后再提交；如果名单确实完整（用记事本编辑的），在最后一行末尾按回车再保存",
    "file.csv_unclosed": "CSV 文件在一对引号中间就结束了：第 {row} 行起的带引号内容没有结束的引号，文件可能还没有写完整，未处理。请等文件完整保存（或重新导出）后再提交；内容本身含有引号的，请写成两个连续的引号",
    "file.encoding": "CSV 文件的编码无法识别。请用 Excel 另存为“CSV UTF-8”或 .xlsx 后重新提交",
    "file.no_apply_sheet": "缺少“申请”工作表（A 列填项目名称，B 列填内容，其中必须有“操作类型”）。请用保险公司提供的申请模板填写（运营人员可用 watcher template 生成）",
    "file.other_tables": "文件中的{sheets}表属于其他操作类型，本次只办理了“{action}”，这些表没有处理。如也要办理，请另建一个文件提交（每个文件只放一类表）",
    "file.sheets_ambiguous": "文件中没有“申请”表，却同时有{sheets}这几类表，无法确定要办理哪一项，未做任何处理。请分成几个文件分别提交（每个文件只放一类表），或加上“申请”表写明操作类型",
    "field.unread_label": "申请表中的“{label}”不是“{action}”可以填写的项目，本次没有使用。“{action}”可填写：{allowed}。请改成其中之一（名称要一致），或删除这一行",
    "file.action_empty": "“操作类型”没有填写：请在其右边（B 列）填写要办理的业务，可选：{allowed}",
    "file.no_action": "“申请”表中没有“操作类型”。请在 A 列写“操作类型”，B 列写要办理的业务，例如“投保”",
    "file.action_repeated": "“申请”表中“操作类型”填了不止一处（第 {rows} 行：{values}），无法确定要办理的业务，未处理。请只保留一行操作类型",
    "file.unknown_action": "操作类型“{value}”无法识别。可以办理的业务：{allowed}",
    "file.action_not_here": "操作类型“{value}”{where}。{hint}",
    "file.internal": "处理时发生内部错误（{detail}），申请未生效。请把原文件转交保险公司运营人员处理",
    "file.watcher_output": "这是 watcher 写出的{what}，不是申请文件，未处理。办理业务请用保险公司提供的申请模板填写（运营人员可用 watcher template 生成）",
    "result.dropped_back": "这是已处理的结果文件：原文件“{file}”已于 {at} 办理了{action}{policies}。结果文件放回文件夹不会再次办理，本次未做任何变更。如需办理新的业务，请用模板重新填写",
    "result.not_resubmittable": "这是已处理的结果文件（状态：{status}），未做任何变更。只有“失败”或“试算”的结果文件可以在文件中改正后放回重新提交；如需再次办理，请用模板重新填写",
    "result.nothing_to_fix": "这是 watcher 写出的结果文件，其中只有处理结果，没有可改正后重新提交的申请内容，未处理。办理业务请用模板填写",
    "result.damaged_mark": "这是 watcher 写出的结果文件，但其“结果汇总”表中原文件的 SHA-256 已被改动，无法确认它是否已办理过，未处理。请在原结果文件中改正后提交，或用模板重新填写",
    "file.open_in_editor": "办理时这个文件还在 Excel 或 WPS 中打开着（文件夹里有它的锁文件“{lock}”）：办理的是当时最后一次保存的内容。如果那时名单还没填完，没有办理的人请用“加人”另行提交；以后请在别处填好、保存并关闭后，再把文件放进文件夹",
    "result.quote_repriced": "这份申请是试算结果改成投保后放回的：试算时保费合计 {quoted} 元，本次出单按现行费率为 {issued} 元（试算之后方案费率有更新，或名单、天数等有改动）。请以本次的保费为准，核对后再告知客户",
    "file.changed_after": "文件在办理之后又被修改了：本次办理的是修改之前的内容（原样归档）。修改后新增或改动的行没有办理；如需办理，请把这些内容另做一个文件提交",
    "file.sheet_rows": "工作表“{table}”有 {count} 行，远超单个申请的上限（名单最多 {limit} 人），未处理。请拆分成多个文件提交；如果是表格下方留有多余的内容，请删除后再提交",
    "file.too_many_rows": "名单共 {count} 人，超过单个申请的上限 {limit} 人。请拆分成多个文件提交",
    "folder.case": "文件夹“{folder}”不是已登记机构的代码（已登记的是“{agency}”，文件夹名须与机构代码完全一致），其中的文件“{file}”未处理。请把文件移到 workbooks/{agency}/；不要用“机构”登记“{folder}”，那样会修改 {agency} 的登记",
    "folder.unknown": "文件夹“{folder}”不是已登记机构的代码，其中的文件“{file}”未处理。请先用“机构”登记该机构，或把文件移到正确的机构文件夹",
    "folder.loose_file": "文件“{file}”直接放在了 workbooks/ 文件夹下，不在任何机构的文件夹里，未处理。请把它移到所属机构的文件夹（workbooks/机构代码/）中；保险公司内部的申请（机构、方案、对账确认、收费登记等）请移到 workbooks/_admin/",
    "agency.ended": "本机构（{agency}）已终止合作，不能再办理{action}，本次未做任何变更。已终止的机构仍可办理保单查询、业务明细、补打保单和对账单查询；如有疑问请联系保险公司团险运营人员",
    "folder.linked_inside": "workbooks/ 下的“{file}”是指向 workbooks/ 内另一个文件夹（或其上级）的链接，其中的文件不会被处理。"
    "每个机构的投递文件夹须是它自己的文件夹（或指向 workbooks/ 之外的文件夹的链接）",
    "folder.linked_twice": "workbooks/ 下的“{file}”是链接，与另一个机构的文件夹指向同一个文件夹，其中的文件不会被处理。"
    "每个机构须有自己的投递文件夹",
    "folder.link_broken": "workbooks/ 下的“{file}”是链接，但它指向的文件夹现在打不开（磁盘未挂载，或文件夹已被移走），"
    "其中的文件暂时无法处理。请恢复该文件夹，或改正链接",
    "folder.not_regular": "“{folder}”文件夹中的“{file}”是{what}，不是普通文件，不会被打开或处理。请放入文件本身（不要放快捷方式或链接）",
    # --- cells --------------------------------------------------------------------------
    "cell.formula_no_value": "该单元格是公式，但文件里没有保存计算结果。请在 Excel 中打开后“复制 → 选择性粘贴 → 数值”，保存后重新提交",
    "cell.error_value": "该单元格是错误值（{value}）。请改正公式或直接填写内容",
    # --- 申请 sheet ---------------------------------------------------------------------
    "field.required": "缺少“{label}”。请在“申请”表 A 列写“{label}”，B 列填写内容",
    "field.empty": "“{label}”没有填写",
    "field.value_aside": "“{label}”的 B 列是空的，而同一行的 {where} 列填了“{value}”：内容要填在 B 列（紧挨“{label}”右边的一格）。请把它移到 B 列后再提交",
    "field.duplicate_label": "“{label}”在“申请”表中出现了多次（第 {rows} 行）。请只保留一行",
    "field.region": "区域“{value}”无效，只能填“境内”或“境外”",
    "field.days": "天数“{value}”无效，请填写 1 以上的整数",
    "field.days_over": "天数 {days} 超过方案“{plan}”的最长天数 {max_days} 天",
    "field.effective_format": "生效时间“{value}”无法识别。请填写如“2026-12-01 08:00”或“2026年12月1日8时”",
    "field.effective_date_only": "生效时间没有写钟点，按 {day} 0 时（00:00）生效。如确为 0 时起保可忽略；否则请写明钟点，例如 {day} 08:00",
    "field.effective_24": "生效时间写的是“{typed}”，按 {day} 00:00（次日零时）生效。如确为该时刻起保可忽略；如要从 {before} 当天起保，请写明钟点，例如 {before} 08:00",
    "file.parse_killed": "读取文件时解析进程两次被系统终止（可能是服务器内存不足），文件未处理。请稍后把文件重新放入；如反复出现，请联系技术人员",
    "field.effective_hour": "生效时间须为整点（分、秒为 0），例如“2026-12-01 08:00”",
    "field.effective_past": "生效时间 {value} 不晚于受理时间 {now}，不能倒签。请把生效时间改到受理之后的整点",
    "field.plan_unknown": "方案代码“{value}”不存在。本机构可用的方案：{allowed}",
    "field.plan_not_agreed": "方案“{value}”不在本机构的协议可用方案中（可用：{allowed}）。如需开通请联系保险公司",
    "field.plan_region": "方案“{plan}”属于{plan_region}，与申请的区域“{region}”不一致",
    "field.digits_lost": "“{label}”填的是一个 {digits} 位的数字（读到 {value}）：Excel 只保留 15 位有效数字，第 15 位以后的数字已变成 0，原来的编号无法还原，未处理。请把该单元格设为文本格式（或先输入英文单引号 '），重新输入完整的编号",
    "field.text_too_long": "“{label}”过长（{length} 个字符），最多 {limit} 个字符",
    "field.tour_group": "旅行团号“{value}”含有不能使用的字符。只能使用字母、数字、汉字和“-”“_”“/”“.”，且不能以“-”开头（也不能含空格、“=”“+”“@”等符号）",
    "field.policy_no": "保单号“{value}”格式不对，请从投保结果中复制完整的保单号",
    # --- roster -------------------------------------------------------------------------
    "roster.ambiguous": "有多张工作表像是被保险人名单（{sheets}），无法确定用哪一张。请把名单放在名为“被保险人名单”的工作表中",
    "roster.merged": "名单中有合并单元格（{ref}）。请取消合并，并在每一行填写完整内容",
    "roster.other_sheet": "除“被保险人名单”外，工作表{sheets}也填有人员：只有“被保险人名单”中的人员才会投保，另一张表的人员会没有保障。请把所有被保险人合并到“被保险人名单”一张表中（或删除另一张表）再提交",
    "roster.hidden_people": "隐藏的工作表“{name}”中有 {rows} 行人员，这些人员没有投保（隐藏的表不据此办理）。如他们也要投保，请把他们加到“被保险人名单”中，或用加人补上",
    "roster.hidden_rows": "名单中第 {rows} 行是隐藏行，这些行也已作为被保险人处理。如不应投保，请删除这些行",
    "roster.hidden_sheet": "“被保险人名单”工作表被隐藏了{elsewhere}：隐藏表中的人员在 Excel 里看不到，不据此办理。请取消隐藏，把要投保的人员填在“被保险人名单”表中再提交",
    "roster.missing": "缺少“被保险人名单”工作表（或任何含“姓名”表头的工作表）。请用模板填写名单",
    "roster.no_header": "“{name}”表中找不到表头行（含“姓名”一列的那一行）。请在名单上方保留模板的表头（姓名、证件类型、证件号码等），或用模板重新填写",
    "roster.csv_missing": "CSV 文件中只有申请信息，没有被保险人名单：Excel、WPS 另存为 CSV 时只保存当前这一张工作表，“被保险人名单”表不会一起保存。请直接提交 .xlsx 文件；或在同一张表中，申请各行之后空一行，再粘贴名单（含表头）后另存为 CSV",
    "roster.csv_blank_line": "CSV 文件中没有找到被保险人名单：申请信息各行之后须先空一行，再写名单的表头（序号,姓名,证件类型,证件号码…）"
    "和每个人。请在名单表头前加一个空行",
    "roster.missing_column": "名单表头缺少“{label}”列（表头在第 {header_row} 行）。请补上该列",
    "roster.duplicate_column": "名单表头中{typed}都是“{label}”列，无法确定用哪一列。请合并为一列“{label}”{hint}后再提交；各行人员在合并后才会核对",
    "row.sample_filled": "这一行的序号是“{mark}”（模板的示例行，会被跳过），但其中填写了与示例不同的内容（{columns}）。如果这是要办理的内容，请把序号改为数字；如果只是示例，请删除该行",
    "row.sample_person_filled": "这一行的序号是“{mark}”（模板的示例行，会被跳过），其中填写了与示例不同的内容（{columns}），但证件号码仍是示例人员的，示例人员不能投保。如果要为某人投保，请把序号改为数字并填写此人真实的证件号码；如果只是示例，请删除该行",
    "row.sample_renumbered": "这一行与“{table}”表模板的示例完全相同，只改了序号，不会办理（示例中的对账单号、金额、凭证号、收据号等只是样子）。如果只是示例，请删除该行或把序号改回“示例”；如果要办理，请填写真实的内容",
    "roster.sample_person": "这是模板示例中的人员（证件号码 {value}），不能投保。请删除该行，或填写真实的被保险人",
    "roster.empty": "名单中没有被保险人（示例行不计）。请至少填写一人",
    "roster.empty_remove": "名单中没有被保险人（示例行不计）。减人时请填写减人后仍留在保单上的全部人员；"
    "如全团都不再出行，请提交撤单",
    "roster.duplicate_person": "此人在名单中重复出现（同证件号码还在第 {rows} 行）。请删除重复的行",
    "roster.overlap": "此人已在本机构旅行团 {tour_group} 的有效保单 {policy_no}（{start} 至 {end}{more}）中，保障期间与本单重叠。请确认不是重复投保",
    "roster.in_group_policy": "此人已在同一旅行团 {tour_group} 的另一张有效保单 {policy_no}（{start} 至 {end}{more}）中，不能在该团重复投保。请核对保单 {policy_no} 的人员；如需调整，请对保单 {policy_no} 办理换人或减人",
    "roster.same_group": "此人已在同一旅行团 {tour_group} 的有效保单 {policy_no}（{start} 至 {end}{more}）中，不能为同一旅行团重复投保。要给该团增加人员请用“加人”，修改保险期间或行程请用“批改”，更换人员请用“换人”，并填写保单号 {policy_no}",
    # --- person ---------------------------------------------------------------------------
    "name.required": "姓名没有填写",
    "name.invalid": "姓名“{value}”含有不能用于姓名的字符（{chars}）。只能包含汉字、字母、空格和间隔号“·”",
    "name.too_long": "姓名过长（{length} 个字符），最多 {limit} 个字符",
    "id_type.required": "证件类型没有填写",
    "id_type.invalid": "证件类型“{value}”无效。可选：{allowed}",
    "id.required": "证件号码没有填写",
    "id.excel_float": "证件号码“{value}”已被 Excel 变成了数字（科学计数法），后几位已经丢失。请把“证件号码”列设为“文本”格式，重新输入完整号码",
    "id.old15": "这是已停用的 15 位身份证号码。请填写 18 位的新号码",
    "id.length": "{id_type}号码应为 {expected}，实际为 {length} 位",
    "id.chars": "{id_type}号码含有无效字符。{expected}",
    "id.region": "身份证号码前 6 位的地区码“{value}”无效（省级代码不存在）",
    "id.region_permit": "港澳台居民居住证号码须以 810000（香港）、820000（澳门）或 830000（台湾）开头",
    "id.region_is_permit": "号码以 {prefix} 开头，是港澳台居民居住证号码。请把证件类型改为“港澳台居民居住证”",
    "id.birth": "证件号码中的出生日期“{value}”不是有效日期",
    "id.birth_future": "证件号码中的出生日期 {value} 晚于今天",
    "id.excel_zeros": "证件号码“{value}”校验不通过，且末三位是 000：多半是 Excel 把它当作数字保存过，只保留了前 15 位，后三位变成了 0。请把“证件号码”列设为“文本”格式，对照证件原件重新输入完整号码",
    "id.trailing_zeros": "证件号码“{value}”末三位是 000：如果这一列曾被 Excel 当作数字保存过，后三位已经丢失，号码虽能通过校验却不是本人的。请对照证件原件核对；号码有误请用信息变更更正",
    "id.checksum": "{id_type}号码有误（校验不通过），可能有数字抄错、漏抄或前后颠倒。请对照证件原件逐位核对后重新填写",
    "id.excel_number": "证件号码“{value}”所在的单元格是数字格式，Excel 会去掉号码开头的 0。请把“证件号码”列设为“文本”格式，按证件重新输入完整号码",
    "id.other_is_checked": "证件号码“{value}”是有效的{id_type}号码：证件类型请选“{id_type}”，不要选“其他”（选“其他”时同一个人会被当作另一个人，重复投保和名单里的重复都查不出来）。已按“其他”投保的人员，请先办理信息变更，把证件类型改为“{id_type}”",
    "id.format": "{id_type}号码格式不对。{expected}",
    "gender.required": "证件类型为“{id_type}”时必须填写性别",
    "gender.invalid": "性别“{value}”无效，请填写“男”或“女”",
    "gender.mismatch": "性别“{value}”与证件号码不符。请对照证件原件核对性别和证件号码",
    "birth.required": "证件类型为“{id_type}”时必须填写出生日期",
    "birth.invalid": "出生日期“{value}”无法识别，请填写如“1980-01-31”",
    "birth.month_only": "出生日期“{value}”不完整（只有年或年月），请填写完整的出生日期（年-月-日），如“1980-01-31”",
    "birth.future": "出生日期 {value} 晚于今天",
    "birth.mismatch": "出生日期 {value} 与证件号码不符。请对照证件原件核对出生日期和证件号码",
    "age.range": "生效时年龄 {age} 岁，不在方案“{plan}”的投保年龄 {min_age}–{max_age} 岁之内",
    "age.over_at_any_start": "现年 {age} 岁，已超过方案“{plan}”的最高投保年龄 {max_age} 岁（生效时只会更大）",
    # --- endorsements ---------------------------------------------------------------------
    "policy.not_found": "未找到本机构的保单“{value}”。请核对保单号（只能办理本机构的保单）",
    "policy.already_cancelled": "保单 {value} 已经是“已撤单”状态，不能再次办理",
    "policy.replaced": "保单 {value} 已撤单，现由保单 {replacement}（有效）替代，不能再对它办理{action}。"
    "请把保单号改为 {replacement} 后再提交",
    "policy.replaced_fixed": "保单 {value} 已撤单，由保单 {replacement} 替代；保单 {replacement} {why}，也不能再办理{action}。"
    "如有特殊情况请联系保险公司团险运营人员",
    "policy.in_force": "保单 {value} 已于 {start} 生效，生效后不能再办理{action}。保全须在生效前办理；如有特殊情况请联系保险公司团险运营人员",
    "policy.settled": "保单 {value} 已列入对账单 {statement}，不能再修改（对账单一经生成不再重开）。如确需更正，请联系保险公司团险运营人员",
    "endorse.already_covered": "此人已在原保单 {policy_no} 中，同一旅行团不能重复投保。加人只填写新增的人员",
    "endorse.reduce_elsewhere": "此人不在保单 {policy_no} 中，而在同一旅行团的另一张保单 {other} 上。减人名单只列保单 {policy_no} 上保留的人员：请删除这一行；如需把此人减去，请对保单 {other} 另行办理减人",
    "endorse.not_on_policy": "此人不在原保单 {policy_no} 中。减人只能减少人员，不能增加；如需换人请用“换人”",
    "endorse.reduce_changed": "减人只能减少人员，不能修改留下的人的信息：此人的{diffs}与原保单 {policy_no} 中的不一致。请按原保单填写此人（原保单的全部人员信息，包括联系电话和备注，可用“保单查询”导出）；如确需修改，请先办理减人，再对新保单办理“信息变更”（或直接用“信息变更”提交完整的新名单）",
    "endorse.most_removed": "本次{action}后，原保单 {before} 人中只保留了 {kept} 人，减少了 {removed} 人（已不在新保单上，没有保障）。{action}的名单须是变更后的完整名单（所有继续投保的人），而不是只列要减去或换入的人：如有人被误减，请尽快用加人补回",
    "endorse.nobody_removed": "新名单与原保单人员相同，没有减少任何人。减人请提交删去相关人员后的完整名单",
    "endorse.no_change": "提交的内容与原保单完全相同，无需{action}",
    "endorse.roster_differs": "{action}不修改被保险人：这张表列出的人员与保单 {policy_no} 上的 {count} 人不同（{what}）。"
    "人员变化请用加人、减人或换人办理；只{action}请删去这张表或恢复原名单",
    "cancel.roster_differs": "撤单撤销整张保单（{policy_no}，{count} 人），不按名单撤人：这张表列出的人员与保单不同（{what}）。"
    "只撤销其中几人请用减人；撤销整张保单请删去这张表或列出保单上的全部人员",
    "endorse.period_field": "{action}不修改{label}：原保单是“{old}”，这里填的是“{value}”。请把这一行留空或填原保单的值；"
    "要改{label}，请在{action}办完后对新保单另交一份批改",
    "endorse.group_apart": "旅行团 {group} 另有保单 {policies} 仍有效，不随本次{action}改变；如需一并办理，"
    "请对其另行提交{action}",
    "endorse.kept_field": "{action}不能修改{label}：原保单是“{old}”，这里填的是“{value}”。请把这一行留空或填原保单的值；"
    "要换{label}，请撤单后重新投保",
    "endorse.amend_overlap": "批改后的保险期间与同一旅行团 {tour_group} 的有效保单 {policy_no}（{start} 至 {end}）重叠：{names} 将在同一期间重复投保。请核对生效时间和天数；如确要改到这段时间，请先对保单 {policy_no} 办理撤单或减人",
    "endorse.amend_overlap_other": "批改后的保险期间与本机构旅行团 {tour_group} 的有效保单 {policy_no}（{start} 至 {end}）重叠：{names} 也在该保单中。请确认不是重复投保",
    "endorse.amend_nothing": "批改须至少填写一项要修改的内容：生效时间、天数、行程路线或经办人（终止时间由生效时间和天数算出，"
    "要改终止时间请改天数）",
    "endorse.days_over_plan": "保单 {policy_no} 为 {days} 天，超过方案“{plan}”现行版本的最长天数 {max_days} 天（方案在出单后已更新）：{action}按现行版本计价，无法办理。请先用“批改”把天数改到 {max_days} 天以内再办理，或联系保险公司",
    "endorse.age_over_plan": "{name} 在生效时间时 {age} 岁，不在方案现行版本的投保年龄 {min_age}–{max_age} 岁之内（方案在出单后已更新）：{action}按现行版本办理，无法办理。请联系保险公司",
    "endorse.age_at_new_start": "{name} 在新的生效时间时 {age} 岁，不在方案投保年龄 {min_age}–{max_age} 岁之内",
    "query.status": "保单状态“{value}”无效，可选：{allowed}",
    "query.settle": "结算状态“{value}”无效，可选：全部、未结、已结",
    "query.plan_unknown": "方案代码“{value}”不存在，业务明细不会有这个方案的保单。请核对方案代码，或填“全部”",
    "query.date": "“{label}”的日期“{value}”无法识别，请填写如“2026-12-01”",
    "query.date_time": "“{label}”只按日期查询：填写的时间 {time} 不起作用，按 {day} 整天计（起期从当天 00:00 起，止期到当天 24:00 止）",
    "query.date_order": "{first} {start} 晚于{last} {end}",
    "policy.not_found_reprint": "未找到本机构的保单“{value}”。请核对保单号（只能补打本机构的保单）",
    # --- admin: agencies and plans ------------------------------------------------------
    "table.missing_sheet": "缺少“{table}”工作表。请用“{kind}”的模板填写（运营人员可用 watcher template {kind} 生成）",
    "table.csv_many": "“{kind}”请求由多张表组成，CSV 文件只能带一张表。请用“{kind}”的 Excel 模板填写（运营人员可用 watcher template {kind} 生成）",
    "table.missing_column": "“{table}”表第 1 行缺少“{label}”列。请补上该列",
    "table.unread_column": "“{table}”表的“{label}”列不是“{kind}”的栏目，这一列没有读取（其余各列照常读取）。“{table}”表的栏目有：{allowed}。如果这一列是要办理的内容，请改用正确的栏目名，或另行办理",
    "table.dated_column": "“{table}”表的“{label}”列没有读取：“{kind}”提交后立即生效，不能指定生效或终止的日期。未做任何变更。请删去这一列，在要生效的那天再提交",
    "table.empty": "“{table}”表中没有数据行（示例行不计）",
    "agency.code_reserved": "机构代码“{value}”是 Windows 保留的名称（CON、PRN、AUX、NUL、COM1–COM9、LPT1–LPT9），以它命名的文件夹在 Windows 电脑上打不开，旅行社无法投递和取回文件。请换一个机构代码",
    "agency.code": "机构代码“{value}”无效：只能用字母、数字、“-”和“_”，以字母或数字开头，最长 32 位",
    "agency.duplicate": "机构代码 {value} 在表中重复（还在第 {rows} 行）",
    "agency.status": "状态“{value}”无效，只能填“合作中”或“已终止”",
    "agency.plans_empty": "可用方案没有填写。请填写方案代码，多个用“、”分隔",
    "agency.plan_unknown": "可用方案中的“{value}”不存在。请先上传该方案，或核对方案代码",
    "agency.sample_row": "这一行是“机构”表模板的示例（营业执照号 {value} 是示例号码），不会办理。如果只是示例，请把序号改回“示例”或删除该行；如果要登记或修改机构，请填写它真实的营业执照号",
    "agency.license_taken": "营业执照号“{value}”已属于机构 {agency}（{name}）：同一家旅行社不应有两个机构代码。如确是同一家，请改用机构代码 {agency}；如是录入错误，请改正营业执照号",
    "agency.license_changed": "机构 {agency} 的营业执照号由 {old} 改为 {new}。营业执照号（统一社会信用代码）随企业不变：如果这是另一家旅行社，它会接手 {agency} 的文件夹、全部保单、对账单和预交保费，请改用新的机构代码登记它，并把本行的营业执照号改回 {old}；只是更正填错的号码则无需处理",
    "agency.ended_live": "机构 {agency} 改为“已终止”，它还有 {count} 张保单未到期（{numbers}）：终止后它不能再为这些保单撤单或批改（仍可查询和补打）。如需先撤单或批改，请把状态改回“合作中”，办完后再终止",
    "agency.ended_money": "机构 {agency} 改为“已终止”，账上还有：{what}。终止后仍会照常出对账单、登记缴费；预交保费在结清全部保费后用“预交保费”登记退还",
    "agency.plan_removed_live": "机构 {agency} 的可用方案去掉了 {plan}，该方案下还有 {count} 张保单未到期（{numbers}）：之后这些保单不能再批改、加人、减人、换人或信息变更（仍可撤单和查询）。如不是有意为之，请把 {plan} 加回可用方案",
    "agency.reactivated": "机构 {agency} 原为“已终止”，本次改为“合作中”，它又可以投保和批改了。如果不是要恢复合作，请再提交一次把状态填为“已终止”（状态留空则保持原状态）",
    "plan.code": "方案代码“{value}”无效：只能用字母、数字和“-”，最长 20 位",
    "plan.duplicate": "方案代码 {value} 在“方案”表中重复（还在第 {rows} 行）",
    "plan.region": "区域“{value}”无效，只能填“境内”或“境外”",
    "plan.age": "年龄“{value}”无效，请填写 0–120 的整数",
    "plan.age_order": "最低年龄 {min_age} 大于最高年龄 {max_age}",
    "plan.max_days": "最长天数“{value}”无效，请填写 1–366 的整数",
    "plan.days": "{label}“{value}”无效，请填写 1–366 的整数",
    "plan.region_changed": "方案 {plan} 是{old}方案，新版本不能改为{new}（已出的保单按{old}出具，批改时会按新版本重出）。{new}方案请用新的方案代码",
    "plan.factors_dropped": "方案 {plan} 现行版本有年龄系数（{old}），本次上传的“年龄系数”表中没有该方案的系数：新版本启用后按年龄的系数（加费或优惠）将取消，"
    "所有年龄按 1 倍计费。如需保留，请在“年龄系数”表中为该方案重新填写（每次上传都是该方案的完整新版本）",
    "plan.live_outside_ages": "方案 {plan} 新版本的投保年龄为 {ages} 岁，还有 {count} 张未到期保单中有人不在此范围内（{numbers}）：这些保单照旧有效，但之后办理批改、减人、换人、信息变更时，不在此范围内的人员会被拒绝。如不是有意收窄年龄范围，请改回后重新上传",
    "plan.live_beyond": "方案 {plan} 新版本的最长天数为 {max_days} 天，还有 {count} 张未到期保单长于此（{numbers}）：这些保单照旧有效，但之后不能再办理减人、加人、换人、信息变更（批改须同时把天数改到 {max_days} 天以内）。如不是有意缩短，请改回最长天数后重新上传",
    "plan.covers_dropped": "方案 {plan} 现行版本的保障项目 {items} 不在本次上传的“保障”表中：新版本启用后新出的保单不再列出这些保障。"
    "如需保留，请在“保障”表中为该方案重新填写（每次上传都是该方案的完整新版本）",
    "plan.not_in_plans": "方案代码 {value} 不在本次上传的“方案”表中",
    "plan.money": "金额“{value}”无效，请填写大于 0、小于 100 亿、最多两位小数的数字（如 1234.50 或 1,234.50；小数点用“.”，千分位逗号每三位一个）",
    "plan.int": "“{label}”的值“{value}”无效，请填写整数",
    "plan.band_order": "天数下限 {low} 大于天数上限 {high}",
    "plan.band_overlap": "方案 {plan} 的费率天数段 {a} 与 {b} 重叠",
    "plan.band_gap": "方案 {plan} 的费率没有覆盖 {low}–{high} 天（须无缝覆盖 1–{max_days} 天）",
    "plan.band_beyond": "方案 {plan} 的费率天数段 {a} 超出最长天数 {max_days}",
    "plan.no_rates": "方案 {plan} 在“费率”表中没有任何费率",
    "plan.no_cover": "方案 {plan} 在“保障”表中没有任何保障项目",
    "plan.factor": "系数“{value}”无效，请填写 0.1 到 10 之间的数字（最多四位小数）",
    "plan.factor_age_order": "年龄下限 {low} 大于年龄上限 {high}",
    "plan.factor_overlap": "方案 {plan} 的年龄系数段 {a} 与 {b} 重叠",
    "plan.cover_item": "保障项目没有填写",
    "plan.cover_duplicate": "方案 {plan} 的保障项目“{item}”重复（第 {rows} 行已有）：每个保障项目只能有一行、一个保额，请删去多余的一行",
    "plan.name": "方案名称没有填写",
    # --- month-end and settlement ---------------------------------------------------------
    "settle.month": "月份“{value}”无效，请写成 YYYY-MM，例如 2026-11",
    "settle.month_open": "{month} 尚未结束（{end} 结束），结账只能在月份结束后进行",
    "settle.agency_unknown": "机构代码“{value}”不存在。请核对，或填“全部”",
    "settle.plan_unknown": "方案代码“{value}”不存在。请核对，或填“全部”",
    "statement.unknown": "对账单号“{value}”不存在。请核对月结汇总或对账单上的编号",
    "statement.repeated": "对账单 {value} 在表中重复（还在第 {rows} 行）。每张对账单只填一行",
    "statement.confirm_differs": "本行的{label}填的是“{typed}”，对账单 {value} 上是 {actual}：对账确认只能确认对账单上的内容，不会按本行改动。对账单无误请把{label}改回（或清空）；有异议请不要确认这一行（清空它的业务渠道和确认人），核对清楚后再确认",
    "statement.confirmed_already": "对账单 {value} 已于 {at} 确认（业务渠道 {channel}，确认人 {by}），业务渠道一经确认不能更改，本行不能再次确认",
    "statement.confirmed_same": "对账单 {value} 已于 {at} 确认（业务渠道 {channel}，确认人 {by}），与本行的业务渠道相同：本行跳过",
    "statement.nothing_new": "表中填写的对账单都已确认过（见各行的提示），本次没有要确认的对账单。请为待确认的对账单填写业务渠道和确认人",
    "statement.channel": "业务渠道“{value}”不在可选范围内。可选：{allowed}",
    "statement.half_filled": "本行只填了{filled}，没填{missing}。要确认这张对账单请两项都填；不确认就两项都留空",
    "statement.nothing": "“对账确认”表中没有填写业务渠道和确认人的行，没有要确认的对账单。请为要确认的对账单填写这两列",
    "statement.not_confirmed": "对账单 {value} 还是“待确认”，须先对账确认（选择业务渠道）再登记缴费",
    "statement.paid_already": "对账单 {value} 已登记缴费（{amount} 元，凭证 {ref}），不能重复登记",
    "statement.amount": "金额 {amount} 元与对账单 {value} 的合计 {total} 元不符（{diff}）。须按对账单金额一次全额缴费，请核对后重新填写",
    "statement.not_paid": "对账单 {value} 状态为“{status}”，须先登记缴费（待确认的还须先对账确认）才能登记发票",
    "statement.dated_before_month": "“{label}”{value} 早于该对账单的结账月份 {month}，请核对日期",
    "statement.ref_reused": "缴费凭证号“{value}”已用于对账单 {other}。一笔款项同时缴多张对账单时可忽略，否则请核对凭证号",
    "statement.invoice_reused": "发票号“{value}”已用于对账单 {other}。一张发票同时开多张对账单时可忽略，否则请核对发票号",
    "statement.ref_reused_here": "缴费凭证号“{value}”在本表第 {above} 行也用于对账单 {other}。一笔款项同时缴多张对账单时可忽略，否则请核对凭证号",
    "statement.invoice_reused_here": "发票号“{value}”在本表第 {above} 行也用于对账单 {other}。一张发票同时开多张对账单时可忽略，否则请核对发票号",
    "statement.invoice_other_agency": "发票号“{value}”已用于机构 {agency} 的对账单 {other}。一张发票只开给一个机构，请核对发票号",
    "statement.invoiced_before_paid": "开票日期 {value} 早于到账日期 {paid}：业绩按开票日期计入 {month}。如无误可忽略",
    "statement.invoiced_already": "对账单 {value} 已登记发票 {invoice}，不能重复登记",
    "money.bad": "金额“{value}”无效，请填写大于 0、小于 100 亿、最多两位小数的数字（如 1234.50 或 1,234.50；小数点用“.”，千分位逗号每三位一个）",
    "date.bad": "“{label}”的日期“{value}”无法识别，请填写如“2026-12-05”",
    "date.future": "“{label}”{value} 晚于今天（{today}），请核对",
    "deposit.type": "类型“{value}”无效，只能填“收取”或“退还”",
    "deposit.agency_unknown": "机构代码“{value}”不存在。请先用“机构”登记该机构",
    "deposit.receipt_used": "收据号 {value} 已经登记过（{agency}，{on}），收据号不能重复使用",
    "deposit.repeated": "收据号 {value} 在表中重复（还在第 {rows} 行）",
    "deposit.receipt_unknown": "收据号 {value} 没有 {agency} 的预交保费记录。退还须填写当初收取时的收据号",
    "deposit.refunded_already": "收据 {value} 的预交保费已于 {on} 退还，不能重复退还",
    "deposit.refund_amount": "退还金额 {amount} 元与收据 {value} 的金额 {receipt} 元不符，预交保费须按收据金额全额退还",
    "deposit.refund_active": "机构 {agency} 的状态是“{status}”。预交保费只在停止合作后退还：请先用“机构”把状态改为“已终止”",
    "deposit.refund_unpaid": "机构 {agency} 还有未结清的保费：{what}。结清后才能退还预交保费",
    "deposit.refund_before": "退还日期 {on} 早于收取日期 {received}，退还只能在收取之后。请核对日期（或收据号）后重新填写",
    "deposit.received_ended": "机构 {agency} 已终止合作，仍登记收取预交保费 {amount} 元。如为补录终止前收到的预交保费可忽略，否则请核对机构代码",
    "deposit.received_expired": "收据日期 {on} 距今已超过三年，这张收据已于 {until} 过期（收据有效期三年）。如为补录的旧收据可忽略，否则请核对日期",
    "deposit.refund_expired": "收据 {value} 已于 {until} 过期（收据有效期三年），退还日期 {on} 在过期之后。请核对收据原件是否仍然有效（或已换开新收据）；如无误可忽略",
    "performance.month": "业绩月份“{value}”无效，请写成 YYYY-MM（例如 2026-11）或“全部”",
    "query.statement_status": "对账状态“{value}”无效，可选：{allowed}",
}

# Sentences that are not errors about a cell: summaries, statuses, notices.
STATUS_LABEL = {"success": "成功", "failed": "失败", "quote": "试算", "duplicate": "重复提交"}


def say(code: str, **values: object) -> str:
    """Render the Chinese message for `code` with `values` filled in."""
    return MESSAGES[code].format(**values)


CODES_DOC_HEAD = """# Problem codes

Every error and warning in a result carries a stable code: `errors[].code` and `warnings[].code` in the
JSON twin, beside `sheet`, `row` (the row the user sees in Excel), `column` and `message` (Chinese, for
people; its wording may improve). A code means one thing and is never reused for another; agencies'
systems and the tests match on codes, never on wording. `{…}` in a message is filled from the file.

This page is generated from `watcher/messages.py`:
`python -c "from watcher.messages import codes_doc; print(codes_doc(), end='')" > docs/problem-codes.md`

| code | meaning (the message, with its blanks) |
|---|---|
"""


def codes_doc() -> str:
    """docs/problem-codes.md: every code with its message (the tests keep the page in step)."""
    return CODES_DOC_HEAD + "".join(f"| `{code}` | {text.replace('|', '｜')} |\n" for code, text in MESSAGES.items())
