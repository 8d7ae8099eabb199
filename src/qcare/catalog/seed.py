"""Device categories of the 医疗器械分类目录 (2017) as the default category list."""

CATEGORIES = [
    ("01", "有源手术器械", "Active surgical devices"),
    ("02", "无源手术器械", "Non-active surgical devices"),
    ("03", "神经和心血管手术器械", "Neurological and cardiovascular surgical devices"),
    ("04", "骨科手术器械", "Orthopaedic surgical devices"),
    ("05", "放射治疗器械", "Radiotherapy devices"),
    ("06", "医用成像器械", "Medical imaging devices"),
    ("07", "医用诊察和监护器械", "Medical examination and monitoring devices"),
    ("08", "呼吸、麻醉和急救器械", "Respiratory, anaesthesia and emergency devices"),
    ("09", "物理治疗器械", "Physical therapy devices"),
    ("10", "输血、透析和体外循环器械", "Transfusion, dialysis and extracorporeal circulation devices"),
    ("11", "医疗器械消毒灭菌器械", "Disinfection and sterilisation devices"),
    ("12", "有源植入器械", "Active implantable devices"),
    ("13", "无源植入器械", "Non-active implantable devices"),
    ("14", "注输、护理和防护器械", "Infusion, nursing and protective devices"),
    ("15", "患者承载器械", "Patient handling devices"),
    ("16", "眼科器械", "Ophthalmic devices"),
    ("17", "口腔科器械", "Dental devices"),
    ("18", "妇产科、辅助生殖和避孕器械", "Obstetric, gynaecological, reproductive and contraceptive devices"),
    ("19", "医用康复器械", "Rehabilitation devices"),
    ("20", "中医器械", "Traditional Chinese medicine devices"),
    ("21", "医用软件", "Medical software"),
    ("22", "临床检验器械", "Clinical laboratory devices"),
]


def seed_categories(ProductCategory):
    for code, name, name_en in CATEGORIES:
        ProductCategory.objects.get_or_create(code=code, defaults={"name": name, "name_en": name_en})
